//! Rating slots as `rating_init_params` set them up at prepare (DESIGN §6).

use crate::domain::{Caller, Object, limits, time};

/// Who a rating counts as given by: the principal, or for a title token the
/// server's own principal.
pub fn rater(caller: &Caller) -> u32 {
    caller.principal.unwrap_or(limits::SERVER_PRINCIPAL)
}
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

/// One rating to apply: `rating_value` for `slot` of `data_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateParam {
    pub data_id: u64,
    pub slot: u8,
    pub value: i64,
}

/// An initialised slot as stored: its settings and running totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRating {
    pub settings: RatingInit,
    pub total_value: i64,
    pub count: u64,
}

impl StoredRating {
    /// Applies one rating by `rater` of `value` (DESIGN §6). `previous` is the rater's
    /// earlier value in a `modifiable` slot, which the new one replaces without
    /// raising count. Values outside the range are refused, not clamped;
    /// `round_minus` turns a negative total into 0.
    pub fn rate(&mut self, value: i64, previous: Option<i64>) -> Result<(), ApiError> {
        let s = &self.settings;
        if s.range_min.is_some_and(|min| value < i64::from(min))
            || s.range_max.is_some_and(|max| value > i64::from(max))
        {
            return Err(ApiError::invalid(format!(
                "rating value {value} is outside the range {}..={} of slot {}",
                s.range_min.map_or("".to_owned(), |v| v.to_string()),
                s.range_max.map_or("".to_owned(), |v| v.to_string()),
                s.slot
            )));
        }
        let modifiable = s.flags & flags::MODIFIABLE != 0;
        match previous.filter(|_| modifiable) {
            Some(old) => self.total_value = self.total_value.saturating_sub(old),
            None => self.count += 1,
        }
        self.total_value = self.total_value.saturating_add(value);
        if s.flags & flags::ROUND_MINUS != 0 && self.total_value < 0 {
            self.total_value = 0;
        }
        Ok(())
    }

    /// `rater` may rate this slot of `object` now: not the owner where
    /// disable_self_rating is set, and not while its lock (`locked_until`) holds.
    pub fn check_rater(
        &self,
        rater: u32,
        object: &Object,
        locked_until: Option<i64>,
        now: i64,
    ) -> Result<(), ApiError> {
        if self.settings.flags & flags::DISABLE_SELF_RATING != 0 && rater == object.owner_id {
            return Err(ApiError::not_allowed(format!(
                "the owner may not rate data_id {} (disable_self_rating)",
                object.data_id
            )));
        }
        if let Some(until) = locked_until
            && until > now
        {
            return Err(ApiError::not_allowed(format!(
                "principal {rater} may rate slot {} of data_id {} again at {}",
                self.settings.slot,
                object.data_id,
                time::format(until)
            )));
        }
        Ok(())
    }

    /// The state shown to clients.
    pub fn view(&self) -> RatingTotals {
        RatingTotals {
            slot: self.settings.slot,
            count: self.count,
            total_value: self.total_value,
            initial_value: self.settings.initial_value,
        }
    }

    /// Until when a rater who just rated at `now` is locked out of this slot.
    pub fn lock_until(&self, now: i64) -> Option<i64> {
        let s = &self.settings;
        match s.lock {
            LockType::None => None,
            LockType::Interval => Some(now.saturating_add(i64::from(s.period_duration))),
            LockType::Permanent => Some(time::NEVER_EXPIRES),
            LockType::Period => period_end(now, s.period_duration, s.period_hour),
        }
    }
}

/// The next moment after `now` that is the weekday of `code` (-1 Mon .. -7 Sun) at
/// `hour`, or, for -17, the first of next month at `hour` (UTC).
fn period_end(now: i64, code: i32, hour: i32) -> Option<i64> {
    let now_dt = ::time::OffsetDateTime::from_unix_timestamp(now).ok()?;
    let hour = u8::try_from(hour).ok()?;
    let at = |date: ::time::Date| -> Option<i64> {
        Some(
            date.with_hms(hour, 0, 0)
                .ok()?
                .assume_utc()
                .unix_timestamp(),
        )
    };
    if code == -17 {
        let (year, month) = match now_dt.month() {
            ::time::Month::December => (now_dt.year() + 1, ::time::Month::January),
            m => (now_dt.year(), m.next()),
        };
        return at(::time::Date::from_calendar_date(year, month, 1).ok()?);
    }
    let target = i64::from(-code); // 1 = Monday .. 7 = Sunday
    let today = i64::from(now_dt.weekday().number_from_monday());
    let ahead = (target - today).rem_euclid(7);
    let date = now_dt.date() + ::time::Duration::days(ahead);
    let candidate = at(date)?;
    if candidate > now {
        Some(candidate)
    } else {
        at(date + ::time::Duration::days(7))
    }
}

/// The state of an initialised rating slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingTotals {
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

    fn stored(flags: u32, min: Option<i32>, max: Option<i32>) -> StoredRating {
        let mut settings = init(0);
        settings.flags = flags;
        settings.range_min = min;
        settings.range_max = max;
        settings.initial_value = 10;
        StoredRating {
            settings,
            total_value: 10,
            count: 0,
        }
    }

    #[test]
    fn each_rating_adds_to_total_and_count() {
        let mut r = stored(0, None, None);
        r.rate(5, None).unwrap();
        r.rate(-2, Some(5)).unwrap();
        assert_eq!((r.total_value, r.count), (13, 2));
    }

    #[test]
    fn a_modifiable_slot_replaces_the_raters_value() {
        let mut r = stored(flags::MODIFIABLE, None, None);
        r.rate(5, None).unwrap();
        r.rate(7, Some(5)).unwrap();
        assert_eq!((r.total_value, r.count), (17, 1));
    }

    #[test]
    fn values_outside_the_range_are_refused_not_clamped() {
        let mut r = stored(0, Some(-1), Some(5));
        assert!(r.rate(6, None).is_err());
        assert!(r.rate(-2, None).is_err());
        assert_eq!((r.total_value, r.count), (10, 0));
        r.rate(5, None).unwrap();
        assert_eq!(r.total_value, 15);
    }

    #[test]
    fn round_minus_turns_a_negative_total_into_zero() {
        let mut r = stored(flags::ROUND_MINUS, None, None);
        r.rate(-50, None).unwrap();
        assert_eq!((r.total_value, r.count), (0, 1));
        let mut plain = stored(0, None, None);
        plain.rate(-50, None).unwrap();
        assert_eq!(plain.total_value, -40);
    }

    fn at(text: &str) -> i64 {
        ::time::OffsetDateTime::parse(text, &::time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp()
    }

    #[test]
    fn period_locks_end_on_the_next_weekday_or_month_start() {
        // Thursday 2024-03-07, Tuesday at 00:00 -> 2024-03-12 00:00 (the NEX example).
        let thu = at("2024-03-07T15:00:00Z");
        assert_eq!(period_end(thu, -2, 0), Some(at("2024-03-12T00:00:00Z")));
        // Same weekday, hour still ahead: today; hour passed: a week later.
        assert_eq!(period_end(thu, -4, 18), Some(at("2024-03-07T18:00:00Z")));
        assert_eq!(period_end(thu, -4, 9), Some(at("2024-03-14T09:00:00Z")));
        assert_eq!(period_end(thu, -7, 4), Some(at("2024-03-10T04:00:00Z")));
        assert_eq!(period_end(thu, -17, 6), Some(at("2024-04-01T06:00:00Z")));
        let december = at("2024-12-31T23:00:00Z");
        assert_eq!(
            period_end(december, -17, 0),
            Some(at("2025-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn lock_types_give_their_ends() {
        let mut r = stored(0, None, None);
        assert_eq!(r.lock_until(100), None);
        r.settings.lock = LockType::Interval;
        r.settings.period_duration = 60;
        assert_eq!(r.lock_until(100), Some(160));
        r.settings.lock = LockType::Permanent;
        assert_eq!(r.lock_until(100), Some(time::NEVER_EXPIRES));
    }

    #[test]
    fn ranges_must_be_ordered() {
        let mut p = init(0);
        p.range_min = Some(10);
        p.range_max = Some(1);
        assert!(p.validate().is_err());
    }
}
