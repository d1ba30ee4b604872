//! Wire times: UTC `2013-01-01T00:00:00Z`; stored as UNIX seconds.

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// `9999-12-31T00:00:00Z`: the expire_time of objects held in a persistence slot (NEX).
pub const NEVER_EXPIRES: i64 = 253_402_214_400;

pub const DAY: i64 = 86_400;

const WIRE: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// UNIX milliseconds, for what is timed finer than seconds (webhook retries).
pub fn now_ms() -> i64 {
    let now = OffsetDateTime::now_utc();
    now.unix_timestamp() * 1000 + i64::from(now.millisecond())
}

/// Formats UNIX seconds as the wire's UTC time.
pub fn format(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(WIRE).ok())
        .unwrap_or_else(|| "9999-12-31T00:00:00Z".to_owned())
}

/// `base + period days`, capped at [`NEVER_EXPIRES`].
pub fn add_days(base: i64, days: u16) -> i64 {
    base.saturating_add(i64::from(days) * DAY)
        .min(NEVER_EXPIRES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_spec() {
        assert_eq!(format(1_356_998_400), "2013-01-01T00:00:00Z");
        assert_eq!(format(NEVER_EXPIRES), "9999-12-31T00:00:00Z");
    }

    #[test]
    fn adds_whole_days() {
        assert_eq!(format(add_days(1_356_998_400, 30)), "2013-01-31T00:00:00Z");
    }
}
