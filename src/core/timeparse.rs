//! Natural-language time expressions ("yesterday", "last week", "3 days ago", "2025-03-14")
//! turned into half-open UTC ranges `[start, end)` of Unix seconds, for
//! `/api/search/by-time` and for search queries such as "meetings last week". It accepts
//! the phrases mcp-memory-service understands, so clients written against it keep working.
//! Everything is UTC: memories carry no time zone, and guessing one would be worse.
//!
//! Conventions, chosen once so that results are predictable:
//! - weeks start on Monday; calendar periods ("this week", "last month") are whole periods;
//! - "N days/weeks/months/years ago" is that whole calendar day/week/month/year, while
//!   "N hours/minutes/seconds ago" runs from that instant until now;
//! - "last/past N units" runs from N units before now until now (months and years move the
//!   calendar date, clamping e.g. March 31 minus one month to February 28/29);
//! - a bare weekday or "last <weekday>" is the most recent such day strictly before today;
//!   a bare month is its most recent occurrence that has begun (the current month counts);
//! - an ISO datetime means the second it names ("…T10:00:00Z" = 10:00:00 up to 10:00:01),
//!   or the minute when seconds are omitted ("…T10:00"); without an offset it is UTC;
//! - ranges ("X to Y", "between X and Y") include the whole of their end period;
//! - "since X" starts where X starts, "after X" where X ends, both until now; "before X"
//!   runs from 1970 to where X starts.

use crate::core::time::{civil_from_days, days_from_civil};
use crate::core::{Error, Result};

const MAX_PHRASE_CHARS: usize = 200;
/// Longer search queries are not scanned for a time phrase: the scan tries every run of up
/// to `MAX_WINDOW` words, and long queries are prose rather than filters.
const MAX_QUERY_CHARS: usize = 2_000;
/// The longest phrase the embedded search looks for ("between march 1 2025 and march 9 2025").
const MAX_WINDOW: usize = 9;
/// Bounds "N units ago" so calendar arithmetic can never overflow.
const MAX_COUNT: i64 = 100_000;
/// Clock values outside ±3000 years are a bug upstream, not a time to compute with.
const MAX_ABS_NOW: f64 = 1e11;

const DAY: f64 = 86_400.0;

type Range = (f64, f64);

/// Parses a time expression into a half-open UTC range `[start, end)` in Unix seconds.
/// When the whole text is not a time expression, a known phrase inside it is used
/// ("what did I do yesterday" → yesterday).
pub fn parse_time_phrase(phrase: &str, now: f64) -> Result<(f64, f64)> {
    if phrase.chars().count() > MAX_PHRASE_CHARS {
        return Err(Error::invalid_param(
            "query",
            format!("the time expression is too long (at most {MAX_PHRASE_CHARS} characters)"),
        ));
    }
    check_now(now)?;
    let toks = tokens(phrase);
    let words: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    let strict = Ctx::new(now, false);
    Ctx::new(now, true)
        .parse(&words)
        .or_else(|| {
            // A phrase inside a sentence is fine, but not when the rest still looks like
            // time syntax: "2025-02-01 to 2025-01-01" or "february 30" are mistakes to
            // report, not sentences that happen to mention a date.
            let (r, from, to) = find(&strict, &words)?;
            let mut rest = words[..from].iter().chain(&words[to..]);
            rest.all(|w| !strict.looks_temporal(w)).then_some(r)
        })
        .ok_or_else(|| {
            Error::invalid_param(
                "query",
                format!(
                    "could not understand the time expression '{}'; try e.g. 'yesterday', \
                     'last week', '3 days ago', '2025-01-31'",
                    phrase.trim()
                ),
            )
        })
}

/// Finds a time phrase inside a search query ("meetings last week") and returns its range
/// together with the query minus the phrase ("meetings"). `None` when there is none.
pub fn extract_time_phrase(query: &str, now: f64) -> Option<((f64, f64), String)> {
    if query.len() > MAX_QUERY_CHARS || check_now(now).is_err() {
        return None;
    }
    let toks = tokens(query);
    let words: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    if let Some(r) = Ctx::new(now, true).parse(&words) {
        return Some((r, String::new()));
    }
    let (range, from, to) = find(&Ctx::new(now, false), &words)?;
    let (first, last) = (toks[from].index, toks[to - 1].index);
    let rest: Vec<&str> = query
        .split_whitespace()
        .enumerate()
        .filter(|(i, _)| *i < first || *i > last)
        .map(|(_, w)| w)
        .collect();
    Some((range, rest.join(" ")))
}

fn check_now(now: f64) -> Result<()> {
    if now.is_finite() && now.abs() < MAX_ABS_NOW {
        Ok(())
    } else {
        Err(Error::Internal(format!("clock value {now} out of range")))
    }
}

struct Token {
    text: String,
    /// Position among the whitespace-separated words of the original text.
    index: usize,
}

const EDGE_PUNCTUATION: &[char] = &[
    ',', ';', ':', '!', '?', '.', '"', '\'', '(', ')', '[', ']', '{', '}', '“', '”', '‘', '’', '«',
    '»',
];

/// Lower-cased words with surrounding punctuation removed; words that were only
/// punctuation are dropped but keep their place in the original numbering.
fn tokens(text: &str) -> Vec<Token> {
    text.split_whitespace()
        .enumerate()
        .filter_map(|(index, raw)| {
            let lower = raw.to_lowercase();
            let mut t = lower.trim_matches(EDGE_PUNCTUATION);
            // "this year's goals"
            for suffix in ["'s", "’s"] {
                if let Some(s) = t.strip_suffix(suffix) {
                    t = s;
                }
            }
            (!t.is_empty()).then(|| Token {
                text: t.to_string(),
                index,
            })
        })
        .collect()
}

/// The longest (then leftmost) run of words that is a time expression, as
/// `(range, first word, one past the last word)`.
fn find(ctx: &Ctx, words: &[&str]) -> Option<(Range, usize, usize)> {
    for len in (1..=MAX_WINDOW.min(words.len())).rev() {
        for start in 0..=words.len() - len {
            let w = &words[start..start + len];
            // Words that are far more often not a date in running text.
            if len == 1 && matches!(w[0], "may" | "march") {
                continue;
            }
            if let Some(r) = ctx.parse(w) {
                return Some((r, start, start + len));
            }
        }
    }
    None
}

/// Words that may precede an expression without changing it ("in march", "over the last
/// 3 days", "on monday").
const FILLERS: &[&str] = &[
    "in", "during", "on", "over", "within", "for", "of", "at", "the", "from",
];
const RANGE_TO: &[&str] = &["to", "until", "till", "through", "thru", "-", "–", "—"];

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    fn parse(w: &str) -> Option<Unit> {
        Some(match w {
            "second" | "seconds" | "sec" | "secs" => Unit::Second,
            "minute" | "minutes" | "min" | "mins" => Unit::Minute,
            "hour" | "hours" | "hr" | "hrs" => Unit::Hour,
            "day" | "days" => Unit::Day,
            "week" | "weeks" | "wk" | "wks" => Unit::Week,
            "month" | "months" => Unit::Month,
            "year" | "years" | "yr" | "yrs" => Unit::Year,
            _ => return None,
        })
    }

    fn seconds(self) -> f64 {
        match self {
            Unit::Second => 1.0,
            Unit::Minute => 60.0,
            Unit::Hour => 3_600.0,
            Unit::Day => DAY,
            Unit::Week => 7.0 * DAY,
            Unit::Month | Unit::Year => 0.0,
        }
    }
}

/// Parts of a day as mcp-memory-service defines them, in hours since midnight.
fn part_of_day(w: &str) -> Option<(i64, i64)> {
    match w {
        "morning" => Some((5, 12)),
        "afternoon" => Some((12, 17)),
        "evening" => Some((17, 21)),
        "night" => Some((21, 29)),
        _ => None,
    }
}

struct Ctx {
    now: f64,
    today: i64,
    year: i64,
    month: u32,
    day: u32,
    /// Whether three-letter month and weekday abbreviations count; off when searching inside
    /// free text, where "sat", "sun" and "mar" are usually just words.
    abbreviations: bool,
}

impl Ctx {
    fn new(now: f64, abbreviations: bool) -> Ctx {
        let today = (now / DAY).floor() as i64;
        let (year, month, day) = civil_from_days(today);
        Ctx {
            now,
            today,
            year,
            month,
            day,
            abbreviations,
        }
    }

    fn parse(&self, t: &[&str]) -> Option<Range> {
        match t {
            [] => None,
            ["between", rest @ ..] => self.span(rest, &["and"]),
            ["since", rest @ ..] => self.point(rest).map(|r| self.until_now(r.0)),
            ["after", rest @ ..] => self.point(rest).map(|r| self.until_now(r.1)),
            ["before", rest @ ..] => self.point(rest).map(|r| (r.0.min(0.0), r.0)),
            ["until" | "till", rest @ ..] => self.point(rest).map(|r| (r.1.min(0.0), r.1)),
            ["from", rest @ ..] => self.span(rest, RANGE_TO).or_else(|| self.parse(rest)),
            [first, rest @ ..] if FILLERS.contains(first) => self.parse(rest),
            _ => self.span(t, RANGE_TO).or_else(|| self.simple(t)),
        }
    }

    /// One side of a range or the object of "since"/"before": no nested ranges.
    fn point(&self, t: &[&str]) -> Option<Range> {
        match t {
            [first, rest @ ..] if FILLERS.contains(first) => self.point(rest),
            _ => self.simple(t),
        }
    }

    /// "X <sep> Y", from the start of X to the end of Y.
    fn span(&self, t: &[&str], separators: &[&str]) -> Option<Range> {
        for k in 1..t.len().saturating_sub(1) {
            if !separators.contains(&t[k]) {
                continue;
            }
            if let (Some(a), Some(b)) = (self.point(&t[..k]), self.point(&t[k + 1..])) {
                if b.1 > a.0 {
                    return Some((a.0, b.1));
                }
            }
        }
        None
    }

    fn until_now(&self, start: f64) -> Range {
        (start, self.now.max(start))
    }

    fn simple(&self, t: &[&str]) -> Option<Range> {
        let today = self.today;
        match t {
            ["today"] | ["earlier", "today"] => Some(days(today, today + 1)),
            ["yesterday"] => Some(days(today - 1, today)),
            ["tomorrow"] => Some(days(today + 1, today + 2)),
            ["day", "before", "yesterday"] => Some(days(today - 2, today - 1)),
            ["tonight"] => Some(part(today, (21, 29))),
            ["last", "night"] => Some(part(today - 1, (21, 29))),
            ["weekend"] => {
                let this_saturday = monday(today) + 5;
                let sat = if today >= this_saturday {
                    this_saturday
                } else {
                    this_saturday - 7
                };
                Some(days(sat, sat + 2))
            }
            ["yesterday", p] => part_of_day(p).map(|h| part(today - 1, h)),
            ["today", p] => part_of_day(p).map(|h| part(today, h)),
            [q @ ("this" | "current" | "last" | "past" | "previous"), w] => self.relative(q, w),
            [n, u, "ago"] => self.ago(count(n)?, Unit::parse(u)?),
            ["last" | "past" | "previous", n, u] => self.rolling(count(n)?, Unit::parse(u)?),
            [w] => self
                .weekday(w)
                .map(|wd| self.last_weekday(wd))
                .or_else(|| self.month_name(w).map(|m| self.recent_month(m, true)))
                .or_else(|| iso(w)),
            [date, time] if date.len() == 10 => datetime(date, time).or_else(|| self.calendar(t)),
            _ => self.calendar(t),
        }
    }

    /// "this/last/past/previous X".
    fn relative(&self, q: &str, w: &str) -> Option<Range> {
        let today = self.today;
        let last = q != "this" && q != "current";
        if q == "past" {
            // "past week" is the rolling last seven days, not the previous calendar week.
            if let Some(u) = Unit::parse(w) {
                return self.rolling(1, u);
            }
        }
        if let Some(u) = Unit::parse(w) {
            return match (u, last) {
                (Unit::Week, false) => Some(days(monday(today), monday(today) + 7)),
                (Unit::Week, true) => Some(days(monday(today) - 7, monday(today))),
                (Unit::Month, _) => {
                    let (y, m) = add_months(self.year, self.month, -i64::from(last));
                    Some(month_range(y, m))
                }
                (Unit::Year, _) => Some(year_range(self.year - i64::from(last))),
                (_, true) => self.rolling(1, u),
                (_, false) => None,
            };
        }
        if w == "weekend" {
            let sat = monday(today) + if last { -2 } else { 5 };
            return Some(days(sat, sat + 2));
        }
        if let Some(h) = part_of_day(w) {
            return (!last).then(|| part(today, h));
        }
        if let Some(wd) = self.weekday(w) {
            return Some(if last {
                self.last_weekday(wd)
            } else {
                let d = monday(today) + wd;
                days(d, d + 1)
            });
        }
        let m = self.month_name(w)?;
        Some(if last {
            self.recent_month(m, false)
        } else {
            month_range(self.year, m)
        })
    }

    fn ago(&self, n: i64, u: Unit) -> Option<Range> {
        let today = self.today;
        Some(match u {
            Unit::Second | Unit::Minute | Unit::Hour => {
                (self.now - n as f64 * u.seconds(), self.now)
            }
            Unit::Day => days(today - n, today - n + 1),
            Unit::Week => {
                let m = monday(today) - 7 * n;
                days(m, m + 7)
            }
            Unit::Month => {
                let (y, m) = add_months(self.year, self.month, -n);
                month_range(y, m)
            }
            Unit::Year => year_range(self.year - n),
        })
    }

    fn rolling(&self, n: i64, u: Unit) -> Option<Range> {
        let start = match u {
            Unit::Month => self.months_before_now(n),
            Unit::Year => self.months_before_now(n * 12),
            _ => self.now - n as f64 * u.seconds(),
        };
        Some((start, self.now))
    }

    /// Now minus `n` calendar months, same time of day, day clamped to the target month.
    fn months_before_now(&self, n: i64) -> f64 {
        let (y, m) = add_months(self.year, self.month, -n);
        let d = self.day.min(days_in_month(y, m));
        let time_of_day = self.now - self.today as f64 * DAY;
        days_from_civil(y, m, d) as f64 * DAY + time_of_day
    }

    /// Whether a word left over around an embedded phrase is itself date-like.
    fn looks_temporal(&self, w: &str) -> bool {
        w.bytes().any(|b| b.is_ascii_digit())
            || matches!(
                w,
                "ago" | "between" | "since" | "before" | "after" | "until" | "till"
            )
            || self.weekday(w).is_some()
            || (w != "may" && self.month_name(w).is_some())
    }

    /// Monday = 0.
    fn weekday(&self, w: &str) -> Option<i64> {
        let full = match w {
            "monday" => Some(0),
            "tuesday" => Some(1),
            "wednesday" => Some(2),
            "thursday" => Some(3),
            "friday" => Some(4),
            "saturday" => Some(5),
            "sunday" => Some(6),
            _ => None,
        };
        if full.is_some() || !self.abbreviations {
            return full;
        }
        match w {
            "mon" => Some(0),
            "tue" | "tues" => Some(1),
            "wed" => Some(2),
            "thu" | "thur" | "thurs" => Some(3),
            "fri" => Some(4),
            "sat" => Some(5),
            "sun" => Some(6),
            _ => None,
        }
    }

    fn month_name(&self, w: &str) -> Option<u32> {
        const NAMES: [&str; 12] = [
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
        if let Some(i) = NAMES.iter().position(|n| *n == w) {
            return Some(i as u32 + 1);
        }
        if !self.abbreviations || !(3..=4).contains(&w.len()) {
            return None;
        }
        if w == "sept" {
            return Some(9);
        }
        NAMES
            .iter()
            .position(|n| w.len() == 3 && n.starts_with(w))
            .map(|i| i as u32 + 1)
    }

    /// The most recent day with weekday `wd` strictly before today.
    fn last_weekday(&self, wd: i64) -> Range {
        let back = (weekday(self.today) - wd).rem_euclid(7);
        let d = self.today - if back == 0 { 7 } else { back };
        days(d, d + 1)
    }

    /// Month `m` of this year if it has begun (or, with `include_current` false, has ended),
    /// else of last year.
    fn recent_month(&self, m: u32, include_current: bool) -> Range {
        let this_year = m < self.month || (include_current && m == self.month);
        month_range(if this_year { self.year } else { self.year - 1 }, m)
    }

    /// "march 2025", "march of 2025", "march 14", "14 march", "march 14th 2025",
    /// "14th of march 2025".
    fn calendar(&self, t: &[&str]) -> Option<Range> {
        let (m, d, y) = match t {
            [a, b] => match (self.month_name(a), self.month_name(b)) {
                (Some(m), _) => match year(b) {
                    Some(y) => (m, None, Some(y)),
                    None => (m, Some(day_of_month(b)?), None),
                },
                (None, Some(m)) => (m, Some(day_of_month(a)?), None),
                _ => return None,
            },
            [a, "of", b] => match (self.month_name(a), self.month_name(b)) {
                (Some(m), _) => (m, None, Some(year(b)?)),
                (None, Some(m)) => (m, Some(day_of_month(a)?), None),
                _ => return None,
            },
            [a, b, c] | [a, "of", b, c] => match (self.month_name(a), self.month_name(b)) {
                (Some(m), _) => (m, Some(day_of_month(b)?), Some(year(c)?)),
                (None, Some(m)) => (m, Some(day_of_month(a)?), Some(year(c)?)),
                _ => return None,
            },
            _ => return None,
        };
        match (d, y) {
            (None, Some(y)) => Some(month_range(y, m)),
            (Some(d), Some(y)) => date_range(y, m, d),
            (Some(d), None) => {
                let this_year = (m, d) <= (self.month, self.day);
                date_range(if this_year { self.year } else { self.year - 1 }, m, d)
            }
            (None, None) => None,
        }
    }
}

fn days(from: i64, to: i64) -> Range {
    (from as f64 * DAY, to as f64 * DAY)
}

fn part(day: i64, (from_hour, to_hour): (i64, i64)) -> Range {
    let base = day as f64 * DAY;
    (
        base + from_hour as f64 * 3_600.0,
        base + to_hour as f64 * 3_600.0,
    )
}

/// Monday = 0; day 0 (1970-01-01) was a Thursday.
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

fn monday(day: i64) -> i64 {
    day - weekday(day)
}

fn add_months(y: i64, m: u32, delta: i64) -> (i64, u32) {
    let idx = y * 12 + i64::from(m) - 1 + delta;
    (idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = add_months(y, m, 1);
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
}

fn month_range(y: i64, m: u32) -> Range {
    let (ny, nm) = add_months(y, m, 1);
    days(days_from_civil(y, m, 1), days_from_civil(ny, nm, 1))
}

fn year_range(y: i64) -> Range {
    days(days_from_civil(y, 1, 1), days_from_civil(y + 1, 1, 1))
}

fn date_range(y: i64, m: u32, d: u32) -> Option<Range> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let z = days_from_civil(y, m, d);
    Some(days(z, z + 1))
}

/// ASCII digits only, `min..=max` of them: rejects signs, spaces and "+3" that
/// `str::parse` would accept.
fn digits(s: &str, min: usize, max: usize) -> Option<i64> {
    if !(min..=max).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn count(w: &str) -> Option<i64> {
    let n = match w {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ => digits(w, 1, 6)?,
    };
    (n <= MAX_COUNT).then_some(n)
}

fn year(w: &str) -> Option<i64> {
    digits(w, 4, 4).filter(|y| *y >= 1000)
}

/// "14", "14th", "1st", "2nd", "3rd".
fn day_of_month(w: &str) -> Option<u32> {
    let n = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| w.strip_suffix(s))
        .unwrap_or(w);
    digits(n, 1, 2)
        .filter(|d| (1..=31).contains(d))
        .map(|d| d as u32)
}

/// "2025", "2025-03", "2025-03-14" (or with '/'), and ISO datetimes.
fn iso(w: &str) -> Option<Range> {
    if let Some((date, time)) = w.split_once('t') {
        return datetime(date, time);
    }
    let mut parts = w.split(['-', '/']);
    let y = year(parts.next()?)?;
    let Some(m) = parts.next() else {
        return Some(year_range(y));
    };
    let m = digits(m, 1, 2).filter(|m| (1..=12).contains(m))? as u32;
    let Some(d) = parts.next() else {
        return Some(month_range(y, m));
    };
    if parts.next().is_some() {
        return None;
    }
    date_range(y, m, digits(d, 1, 2)? as u32)
}

/// `date` as YYYY-MM-DD and `time` as `hh:mm[:ss[.fff]][z|±hh[:mm]]` (already lower-cased).
fn datetime(date: &str, time: &str) -> Option<Range> {
    let mut dp = date.split('-');
    let (y, m, d) = (year(dp.next()?)?, dp.next()?, dp.next()?);
    if dp.next().is_some() || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let day = date_range(y, digits(m, 2, 2)? as u32, digits(d, 2, 2)? as u32)?.0;

    let (clock, offset) = if let Some(c) = time.strip_suffix('z') {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, tz) = time.split_at(i);
        let sign = if tz.starts_with('-') { -1 } else { 1 };
        let tz = &tz[1..];
        let (h, mi) = match tz.split_once(':') {
            Some((h, mi)) => (digits(h, 2, 2)?, digits(mi, 2, 2)?),
            None if tz.len() == 4 => {
                let hhmm = digits(tz, 4, 4)?;
                (hhmm / 100, hhmm % 100)
            }
            None => (digits(tz, 2, 2)?, 0),
        };
        if h > 23 || mi > 59 {
            return None;
        }
        (c, sign * (h * 3_600 + mi * 60))
    } else {
        (time, 0)
    };

    let mut cp = clock.split(':');
    let h = digits(cp.next()?, 2, 2)?;
    let mi = digits(cp.next()?, 2, 2)?;
    let (s, width) = match cp.next() {
        None => (0, 60.0),
        Some(sec) => {
            let whole = match sec.split_once('.') {
                Some((w, frac)) if digits(frac, 1, 9).is_some() => w,
                Some(_) => return None,
                None => sec,
            };
            (digits(whole, 2, 2)?, 1.0)
        }
    };
    if cp.next().is_some() || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let start = day + (h * 3_600 + mi * 60 + s - offset) as f64;
    Some((start, start + width))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-06-18T15:30:00Z, a Wednesday.
    const NOW: f64 = 1_750_260_600.0;

    fn at(y: i64, m: u32, d: u32) -> f64 {
        days_from_civil(y, m, d) as f64 * DAY
    }

    fn day(y: i64, m: u32, d: u32) -> Range {
        (at(y, m, d), at(y, m, d) + DAY)
    }

    fn p(s: &str) -> Range {
        match parse_time_phrase(s, NOW) {
            Ok(r) => r,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn fails(s: &str) {
        let r = parse_time_phrase(s, NOW);
        let e = r.expect_err(s);
        assert_eq!(e.param(), Some("query"), "{s:?}");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn fixture_is_what_it_claims() {
        assert_eq!(at(2025, 6, 18), 1_750_204_800.0);
        assert_eq!(NOW - at(2025, 6, 18), 15.5 * 3_600.0);
        assert_eq!(weekday(days_from_civil(2025, 6, 18)), 2);
    }

    #[test]
    fn days_relative_to_today() {
        assert_eq!(p("today"), day(2025, 6, 18));
        assert_eq!(p("yesterday"), day(2025, 6, 17));
        assert_eq!(p("tomorrow"), day(2025, 6, 19));
        assert_eq!(p("the day before yesterday"), day(2025, 6, 16));
        assert_eq!(p("earlier today"), day(2025, 6, 18));
        assert_eq!(p("  Yesterday.  "), day(2025, 6, 17));
        assert_eq!(p("TODAY"), day(2025, 6, 18));
    }

    #[test]
    fn parts_of_day() {
        let h = 3_600.0;
        assert_eq!(
            p("this morning"),
            (at(2025, 6, 18) + 5.0 * h, at(2025, 6, 18) + 12.0 * h)
        );
        assert_eq!(
            p("yesterday afternoon"),
            (at(2025, 6, 17) + 12.0 * h, at(2025, 6, 17) + 17.0 * h)
        );
        assert_eq!(p("this evening").0, at(2025, 6, 18) + 17.0 * h);
        assert_eq!(
            p("last night"),
            (at(2025, 6, 17) + 21.0 * h, at(2025, 6, 18) + 5.0 * h)
        );
        assert_eq!(p("tonight").0, at(2025, 6, 18) + 21.0 * h);
    }

    #[test]
    fn calendar_weeks_months_years() {
        assert_eq!(p("this week"), (at(2025, 6, 16), at(2025, 6, 23)));
        assert_eq!(p("last week"), (at(2025, 6, 9), at(2025, 6, 16)));
        assert_eq!(p("previous week"), (at(2025, 6, 9), at(2025, 6, 16)));
        assert_eq!(p("this month"), (at(2025, 6, 1), at(2025, 7, 1)));
        assert_eq!(p("last month"), (at(2025, 5, 1), at(2025, 6, 1)));
        assert_eq!(p("this year"), (at(2025, 1, 1), at(2026, 1, 1)));
        assert_eq!(p("last year"), (at(2024, 1, 1), at(2025, 1, 1)));
        assert_eq!(p("this year's"), (at(2025, 1, 1), at(2026, 1, 1)));
        assert_eq!(p("this weekend"), (at(2025, 6, 21), at(2025, 6, 23)));
        assert_eq!(p("last weekend"), (at(2025, 6, 14), at(2025, 6, 16)));
        assert_eq!(p("the weekend"), (at(2025, 6, 14), at(2025, 6, 16)));
    }

    #[test]
    fn units_ago() {
        assert_eq!(p("2 days ago"), day(2025, 6, 16));
        assert_eq!(p("two days ago"), day(2025, 6, 16));
        assert_eq!(p("a day ago"), day(2025, 6, 17));
        assert_eq!(p("0 days ago"), day(2025, 6, 18));
        assert_eq!(p("30 days ago"), day(2025, 5, 19));
        assert_eq!(p("1 week ago"), (at(2025, 6, 9), at(2025, 6, 16)));
        assert_eq!(p("three weeks ago"), (at(2025, 5, 26), at(2025, 6, 2)));
        assert_eq!(p("2 months ago"), (at(2025, 4, 1), at(2025, 5, 1)));
        assert_eq!(p("seven months ago"), (at(2024, 11, 1), at(2024, 12, 1)));
        assert_eq!(p("twelve months ago"), (at(2024, 6, 1), at(2024, 7, 1)));
        assert_eq!(p("1 year ago"), (at(2024, 1, 1), at(2025, 1, 1)));
        assert_eq!(p("3 hours ago"), (NOW - 3.0 * 3_600.0, NOW));
        assert_eq!(p("an hour ago"), (NOW - 3_600.0, NOW));
        assert_eq!(p("ten minutes ago"), (NOW - 600.0, NOW));
        assert_eq!(p("45 mins ago"), (NOW - 2_700.0, NOW));
        assert_eq!(p("30 seconds ago"), (NOW - 30.0, NOW));
    }

    #[test]
    fn rolling_windows() {
        assert_eq!(p("last 3 days"), (NOW - 3.0 * DAY, NOW));
        assert_eq!(p("past 7 days"), (NOW - 7.0 * DAY, NOW));
        assert_eq!(p("last 24 hours"), (NOW - DAY, NOW));
        assert_eq!(p("last two weeks"), (NOW - 14.0 * DAY, NOW));
        assert_eq!(p("in the last 5 minutes"), (NOW - 300.0, NOW));
        assert_eq!(p("over the past 3 days"), (NOW - 3.0 * DAY, NOW));
        let tod = NOW - at(2025, 6, 18);
        assert_eq!(p("last 3 months"), (at(2025, 3, 18) + tod, NOW));
        assert_eq!(p("past 2 years"), (at(2023, 6, 18) + tod, NOW));
        assert_eq!(p("past week"), (NOW - 7.0 * DAY, NOW));
        assert_eq!(p("past month"), (at(2025, 5, 18) + tod, NOW));
        assert_eq!(p("past year"), (at(2024, 6, 18) + tod, NOW));
        assert_eq!(p("last hour"), (NOW - 3_600.0, NOW));
        assert_eq!(p("past day"), (NOW - DAY, NOW));
    }

    #[test]
    fn rolling_months_clamp_the_day() {
        // 2024-03-31T12:00Z minus one month is the last day of February (leap year).
        let now = at(2024, 3, 31) + 43_200.0;
        let r = parse_time_phrase("last 1 month", now).unwrap();
        assert_eq!(r, (at(2024, 2, 29) + 43_200.0, now));
    }

    #[test]
    fn weekdays() {
        // Today is Wednesday 2025-06-18.
        assert_eq!(p("monday"), day(2025, 6, 16));
        assert_eq!(p("last monday"), day(2025, 6, 16));
        assert_eq!(p("on monday"), day(2025, 6, 16));
        assert_eq!(p("tuesday"), day(2025, 6, 17));
        assert_eq!(p("wednesday"), day(2025, 6, 11));
        assert_eq!(p("last wednesday"), day(2025, 6, 11));
        assert_eq!(p("thursday"), day(2025, 6, 12));
        assert_eq!(p("last sunday"), day(2025, 6, 15));
        assert_eq!(p("Friday"), day(2025, 6, 13));
        assert_eq!(p("this friday"), day(2025, 6, 20));
        assert_eq!(p("sat"), day(2025, 6, 14));
    }

    #[test]
    fn month_names() {
        assert_eq!(p("january"), (at(2025, 1, 1), at(2025, 2, 1)));
        assert_eq!(p("in march"), (at(2025, 3, 1), at(2025, 4, 1)));
        assert_eq!(p("june"), (at(2025, 6, 1), at(2025, 7, 1)));
        assert_eq!(p("last june"), (at(2024, 6, 1), at(2024, 7, 1)));
        assert_eq!(p("july"), (at(2024, 7, 1), at(2024, 8, 1)));
        assert_eq!(p("december"), (at(2024, 12, 1), at(2025, 1, 1)));
        assert_eq!(p("this december"), (at(2025, 12, 1), at(2026, 1, 1)));
        assert_eq!(p("march 2025"), (at(2025, 3, 1), at(2025, 4, 1)));
        assert_eq!(p("March of 2023"), (at(2023, 3, 1), at(2023, 4, 1)));
        assert_eq!(p("in Feb 2024"), (at(2024, 2, 1), at(2024, 3, 1)));
        assert_eq!(p("sept 2024"), (at(2024, 9, 1), at(2024, 10, 1)));
        assert_eq!(p("may"), (at(2025, 5, 1), at(2025, 6, 1)));
    }

    #[test]
    fn month_and_day() {
        assert_eq!(p("march 14"), day(2025, 3, 14));
        assert_eq!(p("14 march"), day(2025, 3, 14));
        assert_eq!(p("June 18"), day(2025, 6, 18));
        assert_eq!(p("june 19th"), day(2024, 6, 19));
        assert_eq!(p("march 14, 2024"), day(2024, 3, 14));
        assert_eq!(p("14th of march 2024"), day(2024, 3, 14));
        assert_eq!(p("1st of may"), day(2025, 5, 1));
        fails("february 30");
        fails("march 32");
    }

    #[test]
    fn iso_forms() {
        assert_eq!(p("2025-03-14"), day(2025, 3, 14));
        assert_eq!(p("2025/03/14"), day(2025, 3, 14));
        assert_eq!(p("2024-02-29"), day(2024, 2, 29));
        assert_eq!(p("2025-03"), (at(2025, 3, 1), at(2025, 4, 1)));
        assert_eq!(p("2025-12"), (at(2025, 12, 1), at(2026, 1, 1)));
        assert_eq!(p("2024"), (at(2024, 1, 1), at(2025, 1, 1)));
        assert_eq!(p("in 2023"), (at(2023, 1, 1), at(2024, 1, 1)));
        let ten = at(2025, 3, 14) + 36_000.0;
        assert_eq!(p("2025-03-14T10:00:00Z"), (ten, ten + 1.0));
        assert_eq!(p("2025-03-14t10:00:00.750z"), (ten, ten + 1.0));
        assert_eq!(p("2025-03-14T10:00"), (ten, ten + 60.0));
        assert_eq!(p("2025-03-14 10:00:00"), (ten, ten + 1.0));
        assert_eq!(p("2025-03-14T12:00:00+02:00"), (ten, ten + 1.0));
        assert_eq!(p("2025-03-14T05:30:00-0430"), (ten, ten + 1.0));
        assert_eq!(p("2025-03-14T11:00+01"), (ten, ten + 60.0));
        for bad in [
            "2025-13-45",
            "2025-02-29",
            "2025-00-10",
            "2025-03-14T24:00:00Z",
            "2025-03-14T10:60Z",
            "2025-03-14T10:00:00+25:00",
            "2025-03-14T10",
            "2025-3-14T10:00Z",
            "2025-03-14-01",
            "999",
            "0999",
            "20250",
        ] {
            fails(bad);
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(
            p("2025-01-01 to 2025-02-01"),
            (at(2025, 1, 1), at(2025, 2, 2))
        );
        assert_eq!(
            p("between 2025-01-01 and 2025-02-01"),
            (at(2025, 1, 1), at(2025, 2, 2))
        );
        assert_eq!(
            p("from 2025-01-01 to 2025-02-01"),
            (at(2025, 1, 1), at(2025, 2, 2))
        );
        assert_eq!(p("from january to march"), (at(2025, 1, 1), at(2025, 4, 1)));
        assert_eq!(
            p("between monday and yesterday"),
            (at(2025, 6, 16), at(2025, 6, 18))
        );
        assert_eq!(
            p("2025-01-01 until 2025-01-03"),
            (at(2025, 1, 1), at(2025, 1, 4))
        );
        assert_eq!(p("2025-01 - 2025-03"), (at(2025, 1, 1), at(2025, 4, 1)));
        assert_eq!(p("last week to today"), (at(2025, 6, 9), at(2025, 6, 19)));
        // Backwards ranges are refused rather than silently swapped.
        fails("2025-02-01 to 2025-01-01");
        fails("between 2025-01-01 and");
    }

    #[test]
    fn open_ended() {
        assert_eq!(p("since 2025-01-01"), (at(2025, 1, 1), NOW));
        assert_eq!(p("since yesterday"), (at(2025, 6, 17), NOW));
        assert_eq!(p("since last week"), (at(2025, 6, 9), NOW));
        assert_eq!(p("since monday"), (at(2025, 6, 16), NOW));
        assert_eq!(p("before 2025-01-01"), (0.0, at(2025, 1, 1)));
        assert_eq!(p("after 2025-01-01"), (at(2025, 1, 2), NOW));
        assert_eq!(p("after 2025"), (at(2026, 1, 1), at(2026, 1, 1)));
        assert_eq!(p("until yesterday"), (0.0, at(2025, 6, 18)));
        assert_eq!(p("since 2025-06-18T15:00Z"), (NOW - 1_800.0, NOW));
    }

    #[test]
    fn embedded_phrases() {
        assert_eq!(p("what did I do yesterday"), day(2025, 6, 17));
        assert_eq!(p("what did I do yesterday?"), day(2025, 6, 17));
        assert_eq!(p("meetings last week"), (at(2025, 6, 9), at(2025, 6, 16)));
        assert_eq!(p("notes from 3 days ago about rust"), day(2025, 6, 15));
        assert_eq!(
            p("what happened between 2025-01-01 and 2025-01-31"),
            (at(2025, 1, 1), at(2025, 2, 1))
        );
        fails("what did I do");
    }

    #[test]
    fn extracts_and_removes_the_phrase() {
        let e = |q: &str| extract_time_phrase(q, NOW);
        assert_eq!(
            e("meetings last week"),
            Some(((at(2025, 6, 9), at(2025, 6, 16)), "meetings".to_string()))
        );
        assert_eq!(
            e("What did Alice say yesterday about the budget?"),
            Some((
                day(2025, 6, 17),
                "What did Alice say about the budget?".to_string()
            ))
        );
        assert_eq!(
            e("notes from the last 3 days on Rust"),
            Some(((NOW - 3.0 * DAY, NOW), "notes on Rust".to_string()))
        );
        assert_eq!(
            e("deploys in March 2025"),
            Some(((at(2025, 3, 1), at(2025, 4, 1)), "deploys".to_string()))
        );
        assert_eq!(
            e("bugs since 2025-06-01"),
            Some(((at(2025, 6, 1), NOW), "bugs".to_string()))
        );
        assert_eq!(e("yesterday"), Some((day(2025, 6, 17), String::new())));
        assert_eq!(e("how to deploy the worker"), None);
        assert_eq!(e(""), None);
    }

    #[test]
    fn embedded_search_ignores_ambiguous_words() {
        let e = |q: &str| extract_time_phrase(q, NOW);
        assert_eq!(e("the cat sat on the mat"), None);
        assert_eq!(e("I may have said something"), None);
        assert_eq!(e("we will mar the surface"), None);
        assert_eq!(e("the sun rises"), None);
        // But explicit month phrases still work.
        assert_eq!(
            e("trips in may"),
            Some(((at(2025, 5, 1), at(2025, 6, 1)), "trips".to_string()))
        );
    }

    #[test]
    fn refuses_long_and_garbage_input_without_panicking() {
        let long = "a".repeat(201);
        let err = parse_time_phrase(&long, NOW).unwrap_err();
        assert_eq!(err.param(), Some("query"));
        assert!(err.to_string().contains("too long"));
        assert!(parse_time_phrase(&"a".repeat(200), NOW).is_err());
        for s in [
            "",
            "   ",
            ".",
            "99999999999 days ago",
            "100001 days ago",
            "-3 days ago",
            "+3 days ago",
            "2025-13-45",
            "🙂",
            "🙂 days ago",
            "last",
            "this",
            "ago",
            "since",
            "between and",
            "from to",
            "to",
            "last -1 days",
            "3 fortnights ago",
            "2025-03-14T",
            "2025-03-14T10:00:00+",
            "t",
            "2025--",
            "२०२५-०३-१४",
            "ｔｏｄａｙ ago",
            "last 1e9 days",
            "1.5 days ago",
        ] {
            let r = parse_time_phrase(s, NOW);
            assert!(r.is_err(), "{s:?} -> {r:?}");
            let _ = extract_time_phrase(s, NOW);
        }
        let msg = parse_time_phrase("gibberish", NOW).unwrap_err().to_string();
        assert!(
            msg.contains("'gibberish'") && msg.contains("3 days ago"),
            "{msg}"
        );
        // Extreme but valid counts and odd clocks must not overflow.
        assert!(parse_time_phrase("100000 years ago", NOW).is_ok());
        assert!(parse_time_phrase("last 100000 months", NOW).is_ok());
        assert!(parse_time_phrase("today", f64::NAN).is_err());
        assert!(parse_time_phrase("today", 1e300).is_err());
        assert!(parse_time_phrase("today", -1e300).is_err());
        assert_eq!(parse_time_phrase("today", 0.0).unwrap(), (0.0, DAY));
        assert!(extract_time_phrase("today", f64::INFINITY).is_none());
        assert!(extract_time_phrase(&"yesterday ".repeat(300), NOW).is_none());
    }

    #[test]
    fn every_result_is_a_well_formed_range() {
        let phrases = [
            "today",
            "yesterday",
            "last week",
            "this month",
            "3 days ago",
            "last 24 hours",
            "monday",
            "last weekend",
            "march",
            "2025-03-14",
            "2025-03-14T10:00:00Z",
            "2025",
            "since 2025-01-01",
            "before 2025-01-01",
            "between 2025-01-01 and 2025-02-01",
            "this morning",
            "past year",
            "2 weeks ago",
            "5 years ago",
        ];
        // A spread of clocks: month ends, leap days, new year, Sundays, the epoch.
        let clocks = [
            0.0,
            at(2024, 2, 29) + 1.0,
            at(2024, 12, 31) + 86_399.0,
            at(2025, 1, 1),
            at(2025, 3, 31) + 7_200.0,
            at(2025, 6, 22) + 50_000.0,
            NOW,
        ];
        for &now in &clocks {
            for ph in phrases {
                let (a, b) = parse_time_phrase(ph, now).unwrap();
                assert!(
                    a.is_finite() && b.is_finite() && a <= b,
                    "{ph} @ {now}: {a}..{b}"
                );
            }
        }
    }

    #[test]
    fn last_weekend_on_a_sunday_is_the_previous_one() {
        let sunday = at(2025, 6, 22) + 36_000.0;
        let r = parse_time_phrase("last weekend", sunday).unwrap();
        assert_eq!(r, (at(2025, 6, 14), at(2025, 6, 16)));
        let r = parse_time_phrase("weekend", sunday).unwrap();
        assert_eq!(r, (at(2025, 6, 21), at(2025, 6, 23)));
        let r = parse_time_phrase("sunday", sunday).unwrap();
        assert_eq!(r, (at(2025, 6, 15), at(2025, 6, 16)));
    }
}
