//! Persistence slots (DESIGN §7): what a slot holds, as the API shows it.

/// A principal's persistence slot and the object it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistenceInfo {
    pub principal_id: u32,
    pub slot: u16,
    pub data_id: u64,
}
