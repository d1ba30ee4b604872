//! Quotas (DESIGN §16): per owner and namespace, off unless set, the live objects
//! an owner holds, their declared sizes and their meta_binary. The server's own
//! principal 2 is never limited. A write that would pass a limit is OverCapacity.

use crate::domain::limits::SERVER_PRINCIPAL;
use crate::error::{ApiError, ErrorKind};

/// The limits in force; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    /// Live objects (uploading and meta-only included).
    pub objects: Option<u64>,
    /// Total declared size of live objects, in bytes.
    pub bytes: Option<u64>,
    /// Total meta_binary of live objects, in bytes.
    pub meta_bytes: Option<u64>,
}

/// What an owner holds: live objects (finished and unexpired, or uploading),
/// their declared sizes, their meta_binary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub objects: u64,
    pub bytes: u64,
    pub meta_bytes: u64,
}

impl Usage {
    /// With one more object of `size` bytes and `meta_bytes` of meta_binary.
    pub fn plus_object(self, size: u64, meta_bytes: u64) -> Usage {
        Usage {
            objects: self.objects + 1,
            bytes: self.bytes.saturating_add(size),
            meta_bytes: self.meta_bytes.saturating_add(meta_bytes),
        }
    }

    /// With one object's size or meta_binary changed from `old` to `new`.
    pub fn replacing(self, old: Usage, new: Usage) -> Usage {
        let swap = |total: u64, old: u64, new: u64| total.saturating_sub(old).saturating_add(new);
        Usage {
            objects: swap(self.objects, old.objects, new.objects),
            bytes: swap(self.bytes, old.bytes, new.bytes),
            meta_bytes: swap(self.meta_bytes, old.meta_bytes, new.meta_bytes),
        }
    }
}

impl Quota {
    /// Whether any limit is set (else usage need not even be counted).
    pub fn is_on(&self) -> bool {
        self.objects.is_some() || self.bytes.is_some() || self.meta_bytes.is_some()
    }

    /// Refuses a write that takes `owner` from `before` to `after` past a limit.
    /// A write that does not grow a total is never refused for it, so an owner
    /// over a limit lowered since can still shrink.
    pub fn check(&self, owner: u32, before: Usage, after: Usage) -> Result<(), ApiError> {
        if owner == SERVER_PRINCIPAL {
            return Ok(());
        }
        let limits = [
            (
                "NEXDS_QUOTA_OBJECTS",
                "live objects",
                self.objects,
                before.objects,
                after.objects,
            ),
            (
                "NEXDS_QUOTA_BYTES",
                "bytes of files",
                self.bytes,
                before.bytes,
                after.bytes,
            ),
            (
                "NEXDS_QUOTA_META_BYTES",
                "bytes of meta_binary",
                self.meta_bytes,
                before.meta_bytes,
                after.meta_bytes,
            ),
        ];
        for (setting, what, limit, before, after) in limits {
            if let Some(limit) = limit
                && after > limit
                && after > before
            {
                return Err(ApiError::new(
                    ErrorKind::OverCapacity,
                    format!(
                        "principal {owner} would hold {after} {what}, over the limit of {limit} \
                         ({setting})"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(objects: u64, bytes: u64, meta_bytes: u64) -> Usage {
        Usage {
            objects,
            bytes,
            meta_bytes,
        }
    }

    #[test]
    fn a_write_up_to_a_limit_passes_and_one_past_it_is_over_capacity() {
        let quota = Quota {
            objects: Some(2),
            bytes: Some(100),
            meta_bytes: None,
        };
        let before = usage(1, 60, 0);
        assert!(
            quota
                .check(100, before, before.plus_object(40, 5000))
                .is_ok()
        );
        let err = quota
            .check(100, before, before.plus_object(41, 0))
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::OverCapacity);
        assert!(err.message.contains("NEXDS_QUOTA_BYTES"), "{}", err.message);
        let full = usage(2, 60, 0);
        let err = quota.check(100, full, full.plus_object(1, 0)).unwrap_err();
        assert!(
            err.message.contains("NEXDS_QUOTA_OBJECTS"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_server_principal_and_shrinking_writes_are_never_refused() {
        let quota = Quota {
            objects: Some(1),
            bytes: Some(10),
            meta_bytes: Some(10),
        };
        let over = usage(5, 500, 500);
        assert!(quota.check(2, over, over.plus_object(1000, 1000)).is_ok());
        let smaller = over.replacing(usage(0, 0, 100), usage(0, 0, 50));
        assert!(quota.check(100, over, smaller).is_ok());
        assert!(!Quota::default().is_on());
    }
}
