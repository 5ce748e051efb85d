//! Splits a document's text into overlapping chunks on paragraph and sentence boundaries,
//! small enough for one embedding each (~512 tokens).

#[derive(Debug, Clone, Copy)]
pub struct ChunkOptions {
    pub target_chars: usize,
    pub overlap_chars: usize,
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

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Splits at sentence ends (after . ! ? and CJK stops followed by space or the end).
fn sentences(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut it = p.chars().peekable();
    while let Some(c) = it.next() {
        cur.push(c);
        let ends = matches!(c, '。' | '！' | '？')
            || (matches!(c, '.' | '!' | '?') && it.peek().is_none_or(|n| n.is_whitespace()));
        if ends {
            out.push(std::mem::take(&mut cur).trim().to_string());
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Breaks a unit longer than `max` at whitespace, or hard on a character boundary.
fn split_long(unit: &str, max: usize) -> Vec<String> {
    if chars(unit) <= max {
        return vec![unit.to_string()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in unit.split_inclusive(char::is_whitespace) {
        if chars(&cur) + chars(word) > max && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur).trim().to_string());
        }
        if chars(word) > max {
            let cs: Vec<char> = word.chars().collect();
            for piece in cs.chunks(max) {
                out.push(piece.iter().collect::<String>().trim().to_string());
            }
        } else {
            cur.push_str(word);
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out.retain(|s| !s.is_empty());
    out
}

pub fn chunk_text(text: &str, opts: &ChunkOptions) -> Vec<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let max = opts.max_chars.max(1);
    let target = opts.target_chars.clamp(1, max);
    let overlap = opts.overlap_chars.min(target / 2);
    let mut units: Vec<String> = Vec::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if chars(para) <= target {
            units.push(para.to_string());
        } else {
            for s in sentences(para) {
                units.extend(split_long(&s, max));
            }
        }
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut cur_len = 0;
    for u in units {
        let ul = chars(&u);
        if cur_len > 0 && cur_len + ul + 1 > target {
            chunks.push(cur.join("\n\n"));
            // Carry the tail of the previous chunk as overlap.
            let mut tail: Vec<String> = Vec::new();
            let mut tail_len = 0;
            for prev in cur.iter().rev() {
                let pl = chars(prev);
                if tail_len + pl > overlap || tail_len + pl + ul + 1 > max {
                    break;
                }
                tail.insert(0, prev.clone());
                tail_len += pl + 1;
            }
            cur = tail;
            cur_len = tail_len;
        }
        cur.push(u);
        cur_len += ul + 1;
    }
    if !cur.is_empty() {
        chunks.push(cur.join("\n\n"));
    }
    chunks.retain(|c| !c.trim().is_empty());
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_text_with_overlap() {
        let text: String = (0..60)
            .map(|i| format!("Sentence number {i} is here. "))
            .collect::<String>()
            + "\n\nTail paragraph.";
        let opts = ChunkOptions::default();
        let chunks = chunk_text(&text, &opts);
        assert!(chunks.len() > 1);
        assert!(chunks
            .iter()
            .all(|c| chars(c) <= opts.max_chars && !c.trim().is_empty()));
        for w in text.split_whitespace() {
            assert!(chunks.iter().any(|c| c.contains(w)), "{w} lost");
        }
        let last_unit = chunks[0].rsplit("\n\n").next().unwrap();
        assert!(
            chunks[1].starts_with(last_unit) || chunks[1].contains(last_unit),
            "no overlap"
        );
        assert_eq!(chunk_text("short", &opts), vec!["short"]);
        assert!(chunk_text("  \n\n ", &opts).is_empty());
        let cjk = "猫".repeat(5000);
        assert!(chunk_text(&cjk, &opts)
            .iter()
            .all(|c| chars(c) <= opts.max_chars));
    }
}
