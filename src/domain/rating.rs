//! Rating slots as `rating_init_params` set them up at prepare (DESIGN §6).

use crate::domain::limits;
use crate::error::ApiError;

/// Rating option flags (NEX bit values).
pub mod flags {
    pub const MODIFIABLE: u32 = 0x04;
    pub const ROUND_MINUS: u32 = 0x08;
    pub const DISABLE_SELF_RATING: u32 = 0x10;

    pub fn parse(name: &str) -> Option<u32> {
        match name {
            "none" => Some(0),
            "modifiable" => Some(MODIFIABLE),
            "round_minus" => Some(ROUND_MINUS),
            "disable_self_rating" => Some(DISABLE_SELF_RATING),
            _ => None,
        }
    }
}

/// Duplicate-rating lock types (NEX values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockType {
    None = 0,
    Interval = 1,
    Period = 2,
    Permanent = 3,
}

impl LockType {
    pub fn parse(name: &str) -> Result<Self, ApiError> {
        Ok(match name {
            "none" => LockType::None,
            "interval" => LockType::Interval,
            "period" => LockType::Period,
            "permanent" => LockType::Permanent,
            other => return Err(ApiError::invalid(format!("unknown lock type '{other}'"))),
        })
    }

    pub fn from_i64(value: i64) -> Self {
        match value {
            1 => LockType::Interval,
            2 => LockType::Period,
            3 => LockType::Permanent,
            _ => LockType::None,
        }
    }
}

/// One `rating_init_params/param`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingInit {
    pub slot: u8,
    pub flags: u32,
    pub initial_value: i64,
    pub range_min: Option<i32>,
    pub range_max: Option<i32>,
    pub lock: LockType,
    pub period_hour: i32,
    /// Seconds for `interval`; a weekday code (-1 Mon .. -7 Sun, -17 first of next month) for `period`.
    pub period_duration: i32,
}

impl RatingInit {
    /// Checks one param on its own.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.slot >= limits::RATING_SLOTS {
            return Err(ApiError::invalid(format!(
                "rating slot {} is out of range 0..={}",
                self.slot,
                limits::RATING_SLOTS - 1
            )));
        }
        if let (Some(min), Some(max)) = (self.range_min, self.range_max)
            && min > max
        {
            return Err(ApiError::invalid(format!(
                "rating slot {}: range_min {min} is above range_max {max}",
                self.slot
            )));
        }
        match self.lock {
            LockType::Interval if self.period_duration < 0 => Err(ApiError::invalid(format!(
                "rating slot {}: interval lock needs period_duration >= 0 seconds",
                self.slot
            ))),
            LockType::Period => {
                let day_ok =
                    (-7..=-1).contains(&self.period_duration) || self.period_duration == -17;
                if !day_ok || !(0..=23).contains(&self.period_hour) {
                    return Err(ApiError::invalid(format!(
                        "rating slot {}: period lock needs period_duration -1..-7 or -17 and period_hour 0..23",
                        self.slot
                    )));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Checks a whole list: at most 16 params, each valid, no slot twice.
    pub fn validate_all(params: &[RatingInit]) -> Result<(), ApiError> {
        if params.len() > usize::from(limits::RATING_SLOTS) {
            return Err(ApiError::invalid(format!(
                "{} rating_init_params, at most {} are allowed",
                params.len(),
                limits::RATING_SLOTS
            )));
        }
        for (i, p) in params.iter().enumerate() {
            p.validate()?;
            if params[..i].iter().any(|q| q.slot == p.slot) {
                return Err(ApiError::invalid(format!(
                    "rating slot {} given twice",
                    p.slot
                )));
            }
        }
        Ok(())
    }
}

/// The state of an initialised rating slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingSlot {
    pub slot: u8,
    pub count: u64,
    pub total_value: i64,
    pub initial_value: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(slot: u8) -> RatingInit {
        RatingInit {
            slot,
            flags: 0,
            initial_value: 0,
            range_min: None,
            range_max: None,
            lock: LockType::None,
            period_hour: 0,
            period_duration: 0,
        }
    }

    #[test]
    fn slots_are_checked() {
        assert!(RatingInit::validate_all(&[init(0), init(15)]).is_ok());
        assert!(RatingInit::validate_all(&[init(16)]).is_err());
        assert!(RatingInit::validate_all(&[init(3), init(3)]).is_err());
    }

    #[test]
    fn period_locks_take_weekday_codes() {
        let mut p = init(0);
        p.lock = LockType::Period;
        p.period_duration = -17;
        p.period_hour = 4;
        assert!(p.validate().is_ok());
        p.period_duration = 3;
        assert!(p.validate().is_err());
    }

    #[test]
    fn ranges_must_be_ordered() {
        let mut p = init(0);
        p.range_min = Some(10);
        p.range_max = Some(1);
        assert!(p.validate().is_err());
    }
}
