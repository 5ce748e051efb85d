//! Natural-language time phrases ("yesterday", "last week", "3 days ago", ISO dates) to
//! half-open UTC ranges `[start, end)` in Unix seconds, for `/api/search/by-time`.

use crate::core::error::{Error, Result};
use crate::core::time::{civil_from_days, days_from_civil};

const DAY: f64 = 86_400.0;

fn bad(phrase: &str) -> Error {
    let shown: String = phrase.chars().take(60).collect();
    Error::invalid_param(
        "query",
        format!("could not understand the time expression '{shown}'; try e.g. 'yesterday', 'last week', '3 days ago', '2025-01-31'"),
    )
}

fn day_start(now: f64) -> f64 {
    (now / DAY).floor() * DAY
}

fn number(word: &str) -> Option<i64> {
    const WORDS: [&str; 13] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    if let Some(i) = WORDS.iter().position(|w| *w == word) {
        return Some(i as i64);
    }
    if word == "a" || word == "an" {
        return Some(1);
    }
    word.parse::<i64>()
        .ok()
        .filter(|n| (0..=100_000).contains(n))
}

fn month_start(y: i64, m: u32) -> f64 {
    days_from_civil(y, m, 1) as f64 * DAY
}

fn add_months(y: i64, m: u32, delta: i64) -> (i64, u32) {
    let idx = y * 12 + i64::from(m) - 1 + delta;
    (idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn month_index(w: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| *m == w || (w.len() >= 3 && m.starts_with(w) && w.len() <= m.len()))
        .map(|i| i as u32 + 1)
}

/// An ISO date `YYYY-MM-DD` (a whole day), `YYYY-MM` (a month) or `YYYY` (a year).
fn iso(s: &str) -> Option<(f64, f64)> {
    let date_part = s.split(['t', ' ']).next()?;
    let parts: Vec<&str> = date_part.split('-').collect();
    let num = |p: &str, len: usize| {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<i64>().ok())
            .flatten()
    };
    match parts.as_slice() {
        [y] => {
            let y = num(y, 4)?;
            Some((month_start(y, 1), month_start(y + 1, 1)))
        }
        [y, m] => {
            let (y, m) = (num(y, 4)?, num(m, 2)? as u32);
            if !(1..=12).contains(&m) {
                return None;
            }
            let (ny, nm) = add_months(y, m, 1);
            Some((month_start(y, m), month_start(ny, nm)))
        }
        [y, m, d] => {
            let (y, m, d) = (num(y, 4)?, num(m, 2)? as u32, num(d, 2)? as u32);
            if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
                return None;
            }
            let days = days_from_civil(y, m, d);
            if civil_from_days(days) != (y, m, d) {
                return None;
            }
            Some((days as f64 * DAY, (days + 1) as f64 * DAY))
        }
        _ => None,
    }
}

fn unit_secs(u: &str) -> Option<f64> {
    let u = u.trim_end_matches('s');
    Some(match u {
        "minute" | "min" => 60.0,
        "hour" | "hr" => 3600.0,
        "day" => DAY,
        "week" => 7.0 * DAY,
        "month" => 30.0 * DAY,
        "year" => 365.0 * DAY,
        _ => return None,
    })
}

fn parse_exact(p: &str, now: f64) -> Option<(f64, f64)> {
    let today = day_start(now);
    let (y, m, _) = civil_from_days((now / DAY).floor() as i64);
    // Monday = 0; 1970-01-01 was a Thursday.
    let weekday = ((now / DAY).floor() as i64 + 3).rem_euclid(7);
    let week_start = today - weekday as f64 * DAY;
    let words: Vec<&str> = p.split_whitespace().collect();
    match words.as_slice() {
        ["today"] => return Some((today, today + DAY)),
        ["yesterday"] => return Some((today - DAY, today)),
        ["this", "week"] => return Some((week_start, week_start + 7.0 * DAY)),
        ["last", "week"] | ["previous", "week"] => {
            return Some((week_start - 7.0 * DAY, week_start))
        }
        ["this", "month"] => {
            return Some((month_start(y, m), {
                let (ny, nm) = add_months(y, m, 1);
                month_start(ny, nm)
            }))
        }
        ["last", "month"] | ["previous", "month"] => {
            let (py, pm) = add_months(y, m, -1);
            return Some((month_start(py, pm), month_start(y, m)));
        }
        ["this", "year"] => return Some((month_start(y, 1), month_start(y + 1, 1))),
        ["last", "year"] => return Some((month_start(y - 1, 1), month_start(y, 1))),
        ["last", "weekend"] => {
            let sat = week_start - 2.0 * DAY;
            return Some((sat, sat + 2.0 * DAY));
        }
        [n, unit, "ago"] => {
            let n = number(n)?;
            let secs = unit_secs(unit)?;
            if secs >= DAY {
                let start = if secs == DAY {
                    today - n as f64 * DAY
                } else {
                    day_start(now - n as f64 * secs)
                };
                return Some((start, start + DAY));
            }
            return Some((now - n as f64 * secs, now));
        }
        ["last" | "past", n, unit] => {
            let secs = unit_secs(unit)?;
            return Some((now - number(n)? as f64 * secs, now));
        }
        ["last" | "past", unit] if unit_secs(unit).is_some() => {
            return Some((now - unit_secs(unit)?, now));
        }
        [first, rest @ ..] if *first == "since" || *first == "after" => {
            let (s, e) = parse_exact(&rest.join(" "), now)?;
            return Some((if *first == "since" { s } else { e }, now.max(e)));
        }
        [first, rest @ ..] if *first == "before" => {
            let (s, _) = parse_exact(&rest.join(" "), now)?;
            return Some((0.0, s));
        }
        _ => {}
    }
    // Weekdays: the most recent past one.
    let wd = match words.as_slice() {
        [d] | ["last", d] | ["on", d] => WEEKDAYS.iter().position(|w| w == d),
        _ => None,
    };
    if let Some(target) = wd {
        let mut back = (weekday - target as i64).rem_euclid(7);
        if back == 0 {
            back = 7;
        }
        let start = today - back as f64 * DAY;
        return Some((start, start + DAY));
    }
    // Months: "march", "in march", "march 2025".
    let month_words: Vec<&str> = words.iter().copied().filter(|w| *w != "in").collect();
    if let Some(mi) = month_words.first().and_then(|w| month_index(w)) {
        let year = match month_words.get(1) {
            Some(yw) => yw
                .parse::<i64>()
                .ok()
                .filter(|y| (1970..=9999).contains(y))?,
            None if mi <= m => y,
            None => y - 1,
        };
        if month_words.len() > 2 {
            return None;
        }
        let (ny, nm) = add_months(year, mi, 1);
        return Some((month_start(year, mi), month_start(ny, nm)));
    }
    // Ranges.
    for sep in [" to ", " until ", " and ", " - "] {
        if let Some((a, b)) = p.split_once(sep) {
            let a = a.trim_start_matches("between ").trim_start_matches("from ");
            let (s, _) = parse_exact(a.trim(), now)?;
            let (_, e) = parse_exact(b.trim(), now)?;
            return (e > s).then_some((s, e));
        }
    }
    if words.len() == 1 {
        // An ISO datetime: that minute.
        if let Some(t) = p.find('t').filter(|_| p.len() > 10) {
            let (day_s, _) = iso(&p[..t])?;
            let time: Vec<u32> = p[t + 1..]
                .trim_end_matches('z')
                .split(':')
                .filter_map(|x| x.split('.').next()?.parse().ok())
                .collect();
            if time.len() >= 2 && time[0] < 24 && time[1] < 60 {
                let s = day_s + f64::from(time[0]) * 3600.0 + f64::from(time[1]) * 60.0;
                return Some((s, s + 60.0));
            }
            return None;
        }
        return iso(p);
    }
    None
}

pub fn parse_time_phrase(phrase: &str, now: f64) -> Result<(f64, f64)> {
    if phrase.chars().count() > 200 || !now.is_finite() {
        return Err(bad(phrase));
    }
    let p = phrase
        .trim()
        .trim_end_matches(['.', '?', '!'])
        .to_lowercase();
    if p.is_empty() {
        return Err(bad(phrase));
    }
    if let Some(r) = parse_exact(&p, now) {
        return Ok(r);
    }
    extract_time_phrase(&p, now)
        .map(|(r, _)| r)
        .ok_or_else(|| bad(phrase))
}

/// Finds a time phrase inside a longer query ("meetings last week"); returns the range and
/// the query without it.
pub fn extract_time_phrase(query: &str, now: f64) -> Option<((f64, f64), String)> {
    let lower = query.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    for len in (1..=4.min(words.len())).rev() {
        for start in 0..=words.len() - len {
            let candidate = words[start..start + len].join(" ");
            if let Some(r) = parse_exact(&candidate, now) {
                let rest: Vec<&str> = words[..start]
                    .iter()
                    .chain(&words[start + len..])
                    .copied()
                    .collect();
                return Some((r, rest.join(" ")));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2025-06-18T15:30:00Z, a Wednesday.
    const NOW: f64 = 1_750_260_600.0;
    fn day(y: i64, m: u32, d: u32) -> f64 {
        days_from_civil(y, m, d) as f64 * DAY
    }

    #[test]
    fn parses_common_phrases() {
        assert_eq!(
            parse_time_phrase("yesterday", NOW).unwrap(),
            (day(2025, 6, 17), day(2025, 6, 18))
        );
        assert_eq!(
            parse_time_phrase("Today.", NOW).unwrap(),
            (day(2025, 6, 18), day(2025, 6, 19))
        );
        assert_eq!(
            parse_time_phrase("last week", NOW).unwrap(),
            (day(2025, 6, 9), day(2025, 6, 16))
        );
        assert_eq!(
            parse_time_phrase("last month", NOW).unwrap(),
            (day(2025, 5, 1), day(2025, 6, 1))
        );
        assert_eq!(
            parse_time_phrase("2 days ago", NOW).unwrap(),
            (day(2025, 6, 16), day(2025, 6, 17))
        );
        assert_eq!(
            parse_time_phrase("two days ago", NOW).unwrap(),
            (day(2025, 6, 16), day(2025, 6, 17))
        );
        assert_eq!(
            parse_time_phrase("last 7 days", NOW).unwrap(),
            (NOW - 7.0 * DAY, NOW)
        );
        assert_eq!(
            parse_time_phrase("2025-03-14", NOW).unwrap(),
            (day(2025, 3, 14), day(2025, 3, 15))
        );
        assert_eq!(
            parse_time_phrase("2025-03", NOW).unwrap(),
            (day(2025, 3, 1), day(2025, 4, 1))
        );
        assert_eq!(
            parse_time_phrase("monday", NOW).unwrap(),
            (day(2025, 6, 16), day(2025, 6, 17))
        );
        assert_eq!(
            parse_time_phrase("in march", NOW).unwrap(),
            (day(2025, 3, 1), day(2025, 4, 1))
        );
        assert_eq!(
            parse_time_phrase("december", NOW).unwrap(),
            (day(2024, 12, 1), day(2025, 1, 1))
        );
        assert_eq!(
            parse_time_phrase("2025-01-01 to 2025-01-31", NOW).unwrap(),
            (day(2025, 1, 1), day(2025, 2, 1))
        );
        assert_eq!(
            parse_time_phrase("since 2025-06-01", NOW).unwrap(),
            (day(2025, 6, 1), NOW)
        );
        assert_eq!(
            parse_time_phrase("what did I do yesterday", NOW).unwrap(),
            (day(2025, 6, 17), day(2025, 6, 18))
        );
        let ((s, _), rest) = extract_time_phrase("meetings last week", NOW).unwrap();
        assert_eq!((s, rest.as_str()), (day(2025, 6, 9), "meetings"));
    }

    #[test]
    fn refuses_nonsense_without_panicking() {
        for p in [
            "",
            "   ",
            "the twelfth of never",
            "2025-13-45",
            "2025-02-30",
            "-3 days ago",
            "99999999999 days ago",
            "🙂",
            &"x".repeat(300),
        ] {
            assert!(parse_time_phrase(p, NOW).is_err(), "{p}");
        }
    }
}
