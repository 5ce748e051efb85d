//! The built-in `hashing` embedder: deterministic lexical vectors (word unigrams, bigrams
//! and character n-grams, signed feature hashing into 768 dims), for runs without a model.

pub const DIMS: usize = 768;
const MAX_TOKENS: usize = 20_000;

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // A final mix spreads low-entropy inputs over all bits.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

fn add(v: &mut [f32], feature: &[u8], seed: u64, weight: f32) {
    let h = fnv1a(feature, seed);
    let idx = (h % DIMS as u64) as usize;
    let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
    v[idx] += sign * weight;
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if out.len() >= MAX_TOKENS {
            break;
        }
        if is_cjk(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() && out.len() < MAX_TOKENS {
        out.push(cur);
    }
    out
}

pub fn hashing_embed(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; DIMS];
    let toks = tokens(text);
    let mut counts: std::collections::HashMap<(u8, String), f32> = std::collections::HashMap::new();
    for t in &toks {
        *counts.entry((0, t.clone())).or_default() += 1.0;
        let padded: Vec<char> = format!("<{t}>").chars().collect();
        if padded.len() > 3 {
            for n in 3..=5 {
                for w in padded.windows(n) {
                    *counts.entry((1, w.iter().collect())).or_default() += 1.0;
                }
            }
        }
    }
    for pair in toks.windows(2) {
        *counts
            .entry((2, format!("{} {}", pair[0], pair[1])))
            .or_default() += 1.0;
    }
    for ((kind, f), tf) in counts {
        let weight = match kind {
            0 => 1.0,
            1 => 0.5,
            _ => 0.7,
        } * (1.0 + tf.ln());
        add(&mut v, f.as_bytes(), u64::from(kind), weight);
    }
    normalize(&mut v);
    v
}

pub fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut d, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        d += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        d / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_texts_are_closer() {
        let a = hashing_embed("the cat sat on the mat");
        let b = hashing_embed("a cat sat on a mat");
        let c = hashing_embed("quarterly revenue grew in europe");
        assert!(cosine(&a, &b) > cosine(&a, &c) + 0.3);
        assert_eq!(a, hashing_embed("the cat sat on the mat"));
        assert!((a.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(hashing_embed("   ").iter().all(|x| *x == 0.0));
        assert!(hashing_embed("一只猫").iter().any(|x| *x != 0.0));
    }
}
