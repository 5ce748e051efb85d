//! Splits a document's text into overlapping chunks, one embedding each.
//!
//! The embedder reads at most ~512 tokens (≈ 2,000 characters) per text, and retrieval works
//! best when a chunk is one coherent passage. So chunks are packed greedily from the largest
//! natural units that fit: whole paragraphs, else sentences, else lines (lists, logs, CSV and
//! flattened JSON have no sentences), and only as a last resort runs of words or, for text
//! without spaces, runs of characters. Consecutive chunks repeat the last units of the
//! previous chunk, so a fact that straddles a boundary is still found whole in one chunk.
//!
//! Lengths are counted in characters, not bytes: characters approximate tokens in every
//! script, while a byte budget would give CJK text a third of the room of English.
//!
//! Units are slices of the input, and each is scanned a constant number of times, so chunking
//! is linear in the length of the text.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Chunks are packed up to this many characters.
    pub target_chars: usize,
    /// How much of the end of a chunk is repeated at the start of the next (at most half of
    /// `target_chars`).
    pub overlap_chars: usize,
    /// Hard limit: no chunk is ever longer than this.
    pub max_chars: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            target_chars: 1000,
            overlap_chars: 150,
            max_chars: 2000,
        }
    }
}

/// What joins a unit to the one before it inside a chunk, mirroring what separated them in
/// the source so that a chunk reads like the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// Pieces of one over-long run of characters (CJK without punctuation, a base64 blob).
    Tight,
    Space,
    Line,
    Para,
}

impl Sep {
    fn as_str(self) -> &'static str {
        match self {
            Sep::Tight => "",
            Sep::Space => " ",
            Sep::Line => "\n",
            Sep::Para => "\n\n",
        }
    }

    fn chars(self) -> usize {
        self.as_str().len()
    }

    /// The separator standing for the whitespace `gap` between two units.
    fn for_gap(gap: &str) -> Sep {
        if gap.contains('\n') {
            Sep::Line
        } else if gap.is_empty() {
            Sep::Tight
        } else {
            Sep::Space
        }
    }
}

/// A trimmed, non-empty piece of the text that is never split further.
#[derive(Debug, Clone, Copy)]
struct Unit<'a> {
    text: &'a str,
    chars: usize,
    sep: Sep,
}

/// The options made consistent, so that odd values (zero, target above max) cannot break
/// the invariants.
#[derive(Debug, Clone, Copy)]
struct Limits {
    target: usize,
    overlap: usize,
    max: usize,
    /// Size of the word runs an over-long line is cut into: small enough that the overlap can
    /// be made of whole pieces, large enough not to shred text into single words.
    piece: usize,
}

impl Limits {
    fn new(opts: &ChunkOptions) -> Self {
        let max = opts.max_chars.max(1);
        let target = opts.target_chars.clamp(1, max);
        let overlap = opts.overlap_chars.min(target / 2);
        let piece = overlap.max(target / 8).max(1);
        Limits {
            target,
            overlap,
            max,
            piece,
        }
    }
}

/// Splits `text` into chunks of about `target_chars` characters (never more than
/// `max_chars`), each sharing about `overlap_chars` characters with the previous one.
/// Whitespace-only text gives no chunks; text that fits gives exactly one.
pub fn chunk_text(text: &str, opts: &ChunkOptions) -> Vec<String> {
    let text = normalize_newlines(text);
    let limits = Limits::new(opts);
    let mut packer = Packer::new(limits);
    for_each_paragraph(&text, |para| {
        emit_paragraph(para, &limits, &mut |u| packer.push(u))
    });
    packer.finish()
}

fn normalize_newlines(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Calls `f` with each trimmed paragraph; paragraphs are separated by lines holding nothing
/// but whitespace.
fn for_each_paragraph<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    let mut start: Option<usize> = None;
    let mut end = 0;
    let mut pos = 0;
    for line in text.split('\n') {
        let line_start = pos;
        pos += line.len() + 1;
        if line.trim().is_empty() {
            if let Some(s) = start.take() {
                f(text[s..end].trim());
            }
        } else {
            start.get_or_insert(line_start);
            end = line_start + line.len();
        }
    }
    if let Some(s) = start {
        f(text[s..end].trim());
    }
}

fn emit_paragraph<'a>(para: &'a str, lim: &Limits, out: &mut dyn FnMut(Unit<'a>)) {
    let chars = para.chars().count();
    if chars <= lim.target {
        out(Unit {
            text: para,
            chars,
            sep: Sep::Para,
        });
        return;
    }
    let mut first = true;
    for_each_sentence(para, |sentence, sep| {
        let sep = if first { Sep::Para } else { sep };
        first = false;
        emit_sentence(sentence, sep, lim, out);
    });
}

fn emit_sentence<'a>(sentence: &'a str, sep: Sep, lim: &Limits, out: &mut dyn FnMut(Unit<'a>)) {
    let chars = sentence.chars().count();
    if chars <= lim.target {
        out(Unit {
            text: sentence,
            chars,
            sep,
        });
        return;
    }
    // A "sentence" this long is usually line-structured text (a list, a log, a table), whose
    // lines are its natural units.
    let mut sep = sep;
    for line in sentence.split('\n') {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let chars = line.chars().count();
        if chars <= lim.max {
            out(Unit {
                text: line,
                chars,
                sep,
            });
        } else {
            emit_words(line, sep, lim, out);
        }
        sep = Sep::Line;
    }
}

/// Cuts an over-long line into runs of whole words of at most `lim.piece` characters. A word
/// is only cut itself when it alone exceeds `lim.max` (text without spaces, such as CJK).
fn emit_words<'a>(line: &'a str, sep: Sep, lim: &Limits, out: &mut dyn FnMut(Unit<'a>)) {
    // The run being built: byte range, character count and separator.
    let mut run: Option<(usize, usize, usize, Sep)> = None;
    let mut next_sep = sep;
    let mut prev_end = 0;
    for (start, end, chars) in words(line) {
        let gap = line[prev_end..start].chars().count();
        prev_end = end;
        if chars > lim.max {
            flush_run(line, &mut run, out);
            let mut piece_sep = next_sep;
            for (s, e, n) in char_runs(&line[start..end], lim.piece) {
                out(Unit {
                    text: &line[start + s..start + e],
                    chars: n,
                    sep: piece_sep,
                });
                piece_sep = Sep::Tight;
            }
        } else {
            match run.as_mut() {
                Some((_, e, n, _)) if *n + gap + chars <= lim.piece => {
                    *e = end;
                    *n += gap + chars;
                }
                _ => {
                    flush_run(line, &mut run, out);
                    run = Some((start, end, chars, next_sep));
                }
            }
        }
        // The line has no line breaks left, so words are only ever separated by spaces.
        next_sep = Sep::Space;
    }
    flush_run(line, &mut run, out);
}

fn flush_run<'a>(
    line: &'a str,
    run: &mut Option<(usize, usize, usize, Sep)>,
    out: &mut dyn FnMut(Unit<'a>),
) {
    if let Some((s, e, chars, sep)) = run.take() {
        out(Unit {
            text: &line[s..e],
            chars,
            sep,
        });
    }
}

/// The words of `s` (maximal runs of non-whitespace) as `(start, end, chars)`.
fn words(s: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let mut it = s.char_indices().peekable();
    std::iter::from_fn(move || {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let (start, _) = *it.peek()?;
        let mut end = start;
        let mut chars = 0;
        while let Some((i, c)) = it.next_if(|(_, c)| !c.is_whitespace()) {
            end = i + c.len_utf8();
            chars += 1;
        }
        Some((start, end, chars))
    })
}

/// Byte ranges of consecutive runs of at most `n` characters, always on char boundaries.
fn char_runs(s: &str, n: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let n = n.max(1);
    let mut it = s.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = *it.peek()?;
        let mut end = start;
        let mut count = 0;
        while count < n {
            match it.next() {
                Some((i, c)) => {
                    end = i + c.len_utf8();
                    count += 1;
                }
                None => break,
            }
        }
        Some((start, end, count))
    })
}

/// Words after which a period does not end a sentence. Compared case-insensitively.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "viz", "cf", "al", "fig", "figs",
    "eq", "eqs", "no", "nos", "vol", "vols", "pp", "ch", "sec", "approx", "dept", "inc", "ltd",
    "co", "corp", "gen", "gov", "lt", "col", "capt", "sgt", "rev", "hon", "mt", "ft", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
];

/// Calls `f` with each trimmed, non-empty sentence of a paragraph and the separator standing
/// for the whitespace before it (none at all after a CJK full stop).
fn for_each_sentence<'a>(p: &'a str, mut f: impl FnMut(&'a str, Sep)) {
    let mut start = 0;
    let mut word_start = 0;
    let mut emit = |start: usize, end: usize| {
        let raw = &p[start..end];
        let s = raw.trim();
        if !s.is_empty() {
            f(s, Sep::for_gap(&raw[..raw.len() - raw.trim_start().len()]));
        }
    };
    let mut it = p.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c.is_whitespace() {
            word_start = i + c.len_utf8();
            continue;
        }
        if !is_terminator(c) {
            continue;
        }
        // "?!", "...", and closing quotes or brackets belong to the sentence they end.
        let mut cjk = is_cjk_stop(c);
        let mut end = i + c.len_utf8();
        while let Some((j, d)) = it.next_if(|&(_, d)| is_terminator(d) || is_closer(d)) {
            end = j + d.len_utf8();
            cjk |= is_cjk_stop(d);
        }
        let next = it.peek().map(|&(_, d)| d);
        if !cjk && next.is_some_and(|d| !d.is_whitespace()) {
            // "3.14", "example.com", "a!b": not the end of anything.
            continue;
        }
        if c == '.' && !cjk && !period_ends_sentence(p, word_start, i, end) {
            continue;
        }
        emit(start, end);
        start = end;
    }
    emit(start, p.len());
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?') || is_cjk_stop(c)
}

/// CJK full stops end a sentence even when no space follows: those scripts use none.
fn is_cjk_stop(c: char) -> bool {
    matches!(c, '。' | '！' | '？')
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»' | '」' | '』' | '）' | '】'
    )
}

/// Whether the period at `dot` (inside the word starting at `word_start`, with the
/// terminator run ending at `end`) ends a sentence, judged from the word before it and the
/// text after it.
fn period_ends_sentence(p: &str, word_start: usize, dot: usize, end: usize) -> bool {
    let word = p[word_start..dot].trim_start_matches(|c: char| !c.is_alphanumeric());
    if word.is_empty() {
        return true;
    }
    // A lower-case continuation means the period was not a full stop ("approx. five").
    if p[end..]
        .trim_start()
        .chars()
        .next()
        .is_some_and(char::is_lowercase)
    {
        return false;
    }
    let mut letters = word.chars();
    let single = letters.next().is_some_and(char::is_alphabetic) && letters.next().is_none();
    // Initials ("J. Smith") and dotted abbreviations ("e.g.", "U.S.").
    if single
        || (word.contains('.')
            && word.split('.').all(|seg| {
                let mut cs = seg.chars();
                cs.next().is_some_and(char::is_alphabetic) && cs.next().is_none()
            }))
    {
        return false;
    }
    // A number opening a line is a list marker ("1. Install").
    if word.bytes().all(|b| b.is_ascii_digit()) {
        let before = p[..word_start].trim_end_matches([' ', '\t']);
        if before.is_empty() || before.ends_with('\n') {
            return false;
        }
    }
    !ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(word))
}

/// Greedily packs units into chunks, carrying the tail of each chunk into the next.
struct Packer<'a> {
    lim: Limits,
    cur: Vec<Unit<'a>>,
    /// Characters in `cur` once joined.
    len: usize,
    /// Units of `cur` not already in the previous chunk: a chunk made only of overlap is
    /// never emitted.
    fresh: usize,
    chunks: Vec<String>,
}

impl<'a> Packer<'a> {
    fn new(lim: Limits) -> Self {
        Packer {
            lim,
            cur: Vec::new(),
            len: 0,
            fresh: 0,
            chunks: Vec::new(),
        }
    }

    fn push(&mut self, unit: Unit<'a>) {
        let joined = self.len + unit.sep.chars() + unit.chars;
        // A chunk no longer than the overlap (a heading, a short paragraph) would be repeated
        // whole in the next one, so it joins the next one instead while that fits.
        let tiny = self.len <= self.lim.overlap && joined <= self.lim.max;
        if self.fresh > 0 && joined > self.lim.target && !tiny {
            self.flush();
            self.carry_overlap();
        }
        // Whatever overlap was carried must still leave room for the unit.
        let mut drop = 0;
        while drop < self.cur.len() && self.len + unit.sep.chars() + unit.chars > self.lim.max {
            self.len -= self.cur[drop].chars;
            if let Some(next) = self.cur.get(drop + 1) {
                self.len -= next.sep.chars();
            }
            drop += 1;
        }
        self.cur.drain(..drop);
        self.len = if self.cur.is_empty() {
            unit.chars
        } else {
            self.len + unit.sep.chars() + unit.chars
        };
        self.cur.push(unit);
        self.fresh += 1;
    }

    fn flush(&mut self) {
        let bytes: usize = self.cur.iter().map(|u| u.text.len() + 2).sum();
        let mut chunk = String::with_capacity(bytes);
        for (i, u) in self.cur.iter().enumerate() {
            if i > 0 {
                chunk.push_str(u.sep.as_str());
            }
            chunk.push_str(u.text);
        }
        self.chunks.push(chunk);
    }

    /// Keeps the last units of the chunk just emitted, up to `overlap` characters, as the
    /// start of the next. When even the last unit is too long, its last words are kept
    /// instead, so that consecutive chunks always share some context.
    fn carry_overlap(&mut self) {
        let n = self.cur.len();
        let mut keep = 0;
        let mut len = 0;
        // Never carry the whole chunk: it would then be a mere prefix of the next one.
        while keep + 1 < n {
            let u = &self.cur[n - 1 - keep];
            let joint = if keep > 0 {
                self.cur[n - keep].sep.chars()
            } else {
                0
            };
            if len + joint + u.chars > self.lim.overlap {
                break;
            }
            len += joint + u.chars;
            keep += 1;
        }
        if keep == 0 {
            let tail = self
                .cur
                .last()
                .and_then(|last| suffix_within(last.text, self.lim.overlap));
            self.cur.clear();
            self.len = 0;
            if let Some((text, chars)) = tail {
                self.cur.push(Unit {
                    text,
                    chars,
                    sep: Sep::Para,
                });
                self.len = chars;
            }
        } else {
            self.cur.drain(..n - keep);
            self.len = len;
        }
        self.fresh = 0;
    }

    fn finish(mut self) -> Vec<String> {
        if self.fresh > 0 {
            self.flush();
        }
        self.chunks
    }
}

/// The longest suffix of `s` of at most `n` characters that starts at a word, or a hard
/// suffix when the text has no whitespace in that window (CJK).
fn suffix_within(s: &str, n: usize) -> Option<(&str, usize)> {
    if n == 0 {
        return None;
    }
    let mut count = 0;
    let mut hard = s.len();
    let mut at_word: Option<(usize, usize)> = None;
    for (i, c) in s.char_indices().rev() {
        if c.is_whitespace() {
            at_word = Some((i + c.len_utf8(), count));
        }
        if count == n {
            break;
        }
        count += 1;
        hard = i;
    }
    let (start, chars) = at_word.unwrap_or((hard, count));
    let text = &s[start..];
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    // Trimming only removes whitespace at the edges of a word-aligned suffix.
    let chars = chars - (text.chars().count() - trimmed.chars().count()).min(chars);
    Some((trimmed, chars.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    /// Byte length of the longest prefix of `next` that is also a suffix of `prev`.
    fn shared(prev: &str, next: &str) -> usize {
        let ends: Vec<usize> = next.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
        ends.into_iter()
            .rev()
            .find(|&e| prev.ends_with(&next[..e]))
            .unwrap_or(0)
    }

    fn assert_invariants(text: &str, chunks: &[String], opts: &ChunkOptions) {
        let max = opts.max_chars.max(1);
        for c in chunks {
            assert!(!c.trim().is_empty(), "empty chunk in {chunks:?}");
            assert!(chars(c) <= max, "chunk of {} > {max} chars", chars(c));
            assert_eq!(c.trim(), c, "chunk not trimmed");
        }
        for w in text.split_whitespace().filter(|w| chars(w) <= max) {
            assert!(
                chunks.iter().any(|c| c.contains(w)),
                "word {w:?} is in no chunk"
            );
        }
    }

    fn prose(sentences: usize) -> String {
        (0..sentences)
            .map(|i| format!("Sentence number {i} talks about topic{i} at some length. "))
            .collect()
    }

    /// Deterministic pseudo-random numbers for generated inputs.
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn defaults_match_the_embedder() {
        let o = ChunkOptions::default();
        assert_eq!(
            (o.target_chars, o.overlap_chars, o.max_chars),
            (1000, 150, 2000)
        );
    }

    #[test]
    fn short_text_is_one_chunk() {
        let opts = ChunkOptions::default();
        assert_eq!(chunk_text("short", &opts), vec!["short"]);
        assert_eq!(
            chunk_text("  Hello there.  \n", &opts),
            vec!["Hello there."]
        );
        let small = "First paragraph.\n\nSecond one.\n   \n\n\nThird.";
        assert_eq!(
            chunk_text(small, &opts),
            vec!["First paragraph.\n\nSecond one.\n\nThird."]
        );
    }

    #[test]
    fn whitespace_only_gives_no_chunks() {
        let opts = ChunkOptions::default();
        assert!(chunk_text("", &opts).is_empty());
        assert!(chunk_text("  \n\n \t \r\n\u{a0} ", &opts).is_empty());
    }

    #[test]
    fn line_endings_are_normalised() {
        let opts = ChunkOptions::default();
        assert_eq!(chunk_text("a\r\n\r\nb\rc", &opts), vec!["a\n\nb\nc"]);
    }

    #[test]
    fn long_multi_paragraph_text_is_covered_with_overlap() {
        let opts = ChunkOptions::default();
        let text = (0..8)
            .map(|p| prose(12 + p).replace("Sentence", &format!("P{p}")))
            .collect::<Vec<_>>()
            .join("\n\n");
        let chunks = chunk_text(&text, &opts);
        assert!(chunks.len() > 4, "{} chunks", chunks.len());
        assert_invariants(&text, &chunks, &opts);
        for pair in chunks.windows(2) {
            let k = chars(&pair[1][..shared(&pair[0], &pair[1])]);
            assert!(k > 0, "no overlap between {:?} and {:?}", pair[0], pair[1]);
            assert!(k <= opts.overlap_chars, "overlap of {k} chars");
        }
        for c in &chunks {
            assert!(chars(c) <= opts.target_chars + opts.overlap_chars + 2);
            // Boundaries fall on sentence ends, and chunks start at a sentence or paragraph.
            assert!(c.ends_with('.'), "{c:?}");
            assert!(c.starts_with('P'), "{c:?}");
        }
    }

    #[test]
    fn paragraphs_stay_whole_when_they_fit() {
        let opts = ChunkOptions {
            target_chars: 100,
            overlap_chars: 0,
            max_chars: 200,
        };
        let paras: Vec<String> = (0..6)
            .map(|i| format!("Paragraph {i} {}", "x".repeat(30)))
            .collect();
        let chunks = chunk_text(&paras.join("\n\n"), &opts);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0], format!("{}\n\n{}", paras[0], paras[1]));
    }

    #[test]
    fn huge_paragraph_without_punctuation() {
        let opts = ChunkOptions::default();
        let text: String = (0..3000).map(|i| format!("word{i} ")).collect();
        let chunks = chunk_text(&text, &opts);
        assert!(chunks.len() >= 20, "{} chunks", chunks.len());
        assert_invariants(&text, &chunks, &opts);
        for pair in chunks.windows(2) {
            assert!(shared(&pair[0], &pair[1]) > 0);
        }
        // Packed close to the target rather than to the hard maximum.
        assert!(chunks[..chunks.len() - 1]
            .iter()
            .all(|c| chars(c) > opts.target_chars / 2 && chars(c) <= opts.target_chars));
    }

    #[test]
    fn cjk_without_spaces_is_cut_on_char_boundaries() {
        let opts = ChunkOptions::default();
        let mut seed = 7;
        let text: String = (0..6000)
            .map(|_| char::from_u32(0x4E00 + (lcg(&mut seed) % 0x5000) as u32).unwrap())
            .collect();
        let chunks = chunk_text(&text, &opts);
        assert!(chunks.len() > 3);
        assert!(chunks.iter().all(|c| chars(c) <= opts.max_chars));
        // Dropping each chunk's overlap with the previous one gives back the text exactly.
        let mut rebuilt = chunks[0].clone();
        for pair in chunks.windows(2) {
            let k = shared(&pair[0], &pair[1]);
            assert!(k > 0);
            rebuilt.push_str(&pair[1][k..]);
        }
        assert_eq!(rebuilt, text);
    }

    #[test]
    fn cjk_sentences_split_on_ideographic_stops() {
        let opts = ChunkOptions {
            target_chars: 40,
            overlap_chars: 10,
            max_chars: 60,
        };
        let text = "今日は晴れです。明日は雨が降るでしょう！本当ですか？".repeat(10);
        let chunks = chunk_text(&text, &opts);
        assert!(chunks.len() > 2);
        for c in &chunks {
            assert!(chars(c) <= 60);
            assert!(c.ends_with(['。', '！', '？']), "{c:?}");
        }
    }

    #[test]
    fn sentences_respect_abbreviations_and_decimals() {
        let mut out = Vec::new();
        let p = "Use a tool, e.g. a hammer. Pi is 3.14 or so! Dr. Smith met J. Doe at 5 p.m. yesterday. \
                 Is it \"done.\" Really? Yes... it is. Items cost approx. five dollars.\n1. Install it.";
        for_each_sentence(p, |s, _| out.push(s));
        assert_eq!(
            out,
            vec![
                "Use a tool, e.g. a hammer.",
                "Pi is 3.14 or so!",
                "Dr. Smith met J. Doe at 5 p.m. yesterday.",
                "Is it \"done.\"",
                "Really?",
                "Yes... it is.",
                "Items cost approx. five dollars.",
                "1. Install it.",
            ]
        );
    }

    #[test]
    fn line_structured_text_splits_at_line_ends() {
        let opts = ChunkOptions::default();
        let lines: Vec<String> = (0..400)
            .map(|i| format!("row{i}: name: item {i}; price: {i}0"))
            .collect();
        let text = lines.join("\n");
        let chunks = chunk_text(&text, &opts);
        assert!(chunks.len() > 5);
        assert_invariants(&text, &chunks, &opts);
        for c in &chunks {
            for l in c.lines() {
                assert!(lines.iter().any(|x| x == l), "broken line {l:?}");
            }
        }
    }

    #[test]
    fn long_sentence_between_target_and_max_stays_whole() {
        let opts = ChunkOptions::default();
        let long = format!("{} end.", "alpha beta gamma ".repeat(90));
        let text = format!("{} {long} {}", prose(10), prose(10));
        let chunks = chunk_text(&text, &opts);
        assert!(chunks.iter().any(|c| c.contains(long.as_str())));
        assert_invariants(&text, &chunks, &opts);
    }

    #[test]
    fn max_length_is_respected_for_odd_options() {
        let text = format!(
            "{}\n\n{}\n\n{}",
            prose(30),
            "x".repeat(5000),
            "äöü ".repeat(700)
        );
        for (t, o, m) in [
            (50, 10, 80),
            (1, 1, 1),
            (0, 0, 0),
            (5000, 3000, 100),
            (10, 100, 10),
        ] {
            let opts = ChunkOptions {
                target_chars: t,
                overlap_chars: o,
                max_chars: m,
            };
            let chunks = chunk_text(&text, &opts);
            assert!(!chunks.is_empty());
            assert_invariants(&text, &chunks, &opts);
        }
    }

    #[test]
    fn overlap_is_at_most_half_the_target_and_zero_means_none() {
        let text = prose(200);
        let opts = ChunkOptions {
            target_chars: 200,
            overlap_chars: 5000,
            max_chars: 400,
        };
        let chunks = chunk_text(&text, &opts);
        for pair in chunks.windows(2) {
            let k = chars(&pair[1][..shared(&pair[0], &pair[1])]);
            assert!(k > 0 && k <= 100, "overlap {k}");
        }
        let opts = ChunkOptions {
            target_chars: 200,
            overlap_chars: 0,
            max_chars: 400,
        };
        let chunks = chunk_text(&text, &opts);
        assert_eq!(chunks.join(" "), text.trim());
    }

    #[test]
    fn overlap_falls_back_to_trailing_words_of_a_long_sentence() {
        let opts = ChunkOptions {
            target_chars: 100,
            overlap_chars: 20,
            max_chars: 200,
        };
        let text =
            "One two three four five six seven eight nine ten eleven twelve thirteen fourteen. \
                    Another fairly long sentence follows here with many more words in it today.";
        let chunks = chunk_text(text, &opts);
        assert_eq!(chunks.len(), 2);
        assert!(
            chunks[1].starts_with("thirteen fourteen. Another"),
            "{chunks:?}"
        );
    }

    #[test]
    fn deterministic() {
        let text = format!("{}\n\n{}", prose(100), "猫".repeat(3000));
        let opts = ChunkOptions::default();
        assert_eq!(chunk_text(&text, &opts), chunk_text(&text, &opts));
    }

    /// A CJK stop, with the stops right after it, ends a sentence even inside a word.
    fn split_after_cjk_stops(w: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut after_stop = false;
        for (i, c) in w.char_indices() {
            if after_stop && !is_terminator(c) {
                out.push(&w[start..i]);
                start = i;
                after_stop = false;
            }
            after_stop |= is_cjk_stop(c);
        }
        out.push(&w[start..]);
        out
    }

    #[test]
    fn generated_inputs_keep_the_invariants() {
        let alphabet: Vec<char> = "aaaaabcdeéfgh    \n\n..!?,3猫。\r\t\u{a0}"
            .chars()
            .collect();
        let mut seed = 42;
        for round in 0..300 {
            let len = (lcg(&mut seed) % 3000) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(lcg(&mut seed) % alphabet.len() as u64) as usize])
                .collect();
            let opts = ChunkOptions {
                target_chars: 1 + (lcg(&mut seed) % 300) as usize,
                overlap_chars: (lcg(&mut seed) % 100) as usize,
                max_chars: 1 + (lcg(&mut seed) % 500) as usize,
            };
            let chunks = chunk_text(&text, &opts);
            let max = opts.max_chars;
            for c in &chunks {
                assert!(!c.trim().is_empty() && chars(c) <= max, "round {round}");
            }
            for w in text
                .split_whitespace()
                .flat_map(split_after_cjk_stops)
                .filter(|w| chars(w) <= max)
            {
                assert!(
                    chunks.iter().any(|c| c.contains(w)),
                    "round {round}: {w:?} lost with {opts:?}"
                );
            }
            assert_eq!(chunks.is_empty(), text.trim().is_empty());
        }
    }

    #[test]
    fn a_megabyte_is_chunked_quickly() {
        let text = format!(
            "{}\n\n{}\n\n{}",
            prose(8000),
            "z".repeat(300_000),
            "猫 ".repeat(100_000)
        );
        let chunks = chunk_text(&text, &ChunkOptions::default());
        assert!(chunks.len() > 500);
        assert!(chunks.iter().all(|c| chars(c) <= 2000));
    }
}
