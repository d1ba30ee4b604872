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
    let mut out = Vec::with_capacity(20);
    format_into(unix, &mut out);
    String::from_utf8(out).unwrap_or_else(|_| "9999-12-31T00:00:00Z".to_owned())
}

/// Appends the wire's UTC time of UNIX seconds to `out`. Years 0–9999 are
/// written digit by digit (a search page writes four times per object, and
/// the general formatter costs thousands of instructions each); the rest take
/// the general formatter, as [`format`] always did.
pub fn format_into(unix: i64, out: &mut Vec<u8>) {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(unix) else {
        out.extend_from_slice(b"9999-12-31T00:00:00Z");
        return;
    };
    let year = t.year();
    if !(0..=9999).contains(&year) {
        match t.format(WIRE) {
            Ok(text) => out.extend_from_slice(text.as_bytes()),
            Err(_) => out.extend_from_slice(b"9999-12-31T00:00:00Z"),
        }
        return;
    }
    let (hour, minute, second) = t.to_hms();
    let digits = |n: u32, places: usize, at: &mut [u8]| {
        let mut n = n;
        for place in (0..places).rev() {
            at[place] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    let mut text = *b"0000-00-00T00:00:00Z";
    digits(year as u32, 4, &mut text[0..4]);
    digits(u32::from(u8::from(t.month())), 2, &mut text[5..7]);
    digits(u32::from(t.day()), 2, &mut text[8..10]);
    digits(u32::from(hour), 2, &mut text[11..13]);
    digits(u32::from(minute), 2, &mut text[14..16]);
    digits(u32::from(second), 2, &mut text[17..19]);
    out.extend_from_slice(&text);
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
    fn formats_every_second_like_the_general_formatter() {
        let general = |unix: i64| {
            OffsetDateTime::from_unix_timestamp(unix)
                .map(|t| t.format(WIRE).expect("formats"))
                .expect("in range")
        };
        // Around leap days, month ends, year ends, the epoch and the limits.
        let mut times = vec![
            0,
            -1,
            1,
            951_782_399,
            951_868_800,
            4_107_542_399,
            NEVER_EXPIRES,
        ];
        times.extend((0..5000).map(|i| i * 7_777_777 + i % 61));
        times.extend((1..200).map(|i| -i * 9_876_543));
        times.push(-62_167_219_200); // 0000-01-01
        times.push(-62_167_219_201); // -0001-12-31: the general formatter's
        times.push(253_402_300_799); // 9999-12-31T23:59:59Z
        for unix in times {
            assert_eq!(format(unix), general(unix), "at {unix}");
        }
        assert_eq!(format(i64::MAX), "9999-12-31T00:00:00Z");
    }

    #[test]
    fn adds_whole_days() {
        assert_eq!(format(add_days(1_356_998_400, 30)), "2013-01-31T00:00:00Z");
    }
}
