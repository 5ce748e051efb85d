//! The built-in "hashing" embedder, used when no ML embedding model is bound (local runs,
//! tests, cheap deployments). It only sees lexical overlap — shared words, word pairs and
//! sub-word pieces — which is enough for keyword-flavoured semantic search without any
//! model. Its one hard requirement is determinism: a text must map to bit-identical
//! vectors on wasm32 and x86_64 and across Rust versions, or stored vectors would stop
//! matching freshly embedded queries. Hence a self-implemented hash, a fixed summation
//! order and a self-implemented logarithm instead of the platform's libm.

/// Output dimensionality; matches the common 768-dim models so indexes can be shared.
pub const DIMS: usize = 768;

/// Bounds the work for multi-megabyte inputs; the head of a document carries most of its
/// topic anyway.
const MAX_TOKENS: usize = 20_000;
/// Very long "words" are usually hashes or base64; their tail adds cost, not meaning.
const MAX_WORD_CHARS: usize = 48;

const KIND_UNIGRAM: u64 = 0;
const KIND_BIGRAM: u64 = 1;
const KIND_NGRAM: u64 = 2;
/// The feature kind lives in the top two bits of a feature key, so one sort groups both
/// identical features and keeps kinds apart; the sign comes from the next bit down.
const KIND_SHIFT: u32 = 62;
const SIGN_BIT: u64 = 1 << 61;
const HASH_MASK: u64 = SIGN_BIT - 1;

/// Embeds `text` into a unit-length [`DIMS`]-dimensional vector (all zeros if the text has
/// no word characters).
pub fn hashing_embed(text: &str) -> Vec<f32> {
    let mut out = vec![0.0f32; DIMS];
    let mut feats = collect_features(text);
    // Sorting makes both the tf counting and the float summation order independent of
    // anything but the text itself.
    feats.sort_unstable();
    for run in feats.chunk_by(|a, b| a == b) {
        let key = run[0];
        let kind_weight = match key >> KIND_SHIFT {
            KIND_UNIGRAM => 1.0,
            KIND_BIGRAM => 0.7,
            _ => 0.5,
        };
        let w = (kind_weight * (1.0 + ln(run.len() as f64))) as f32;
        let bucket = ((key & HASH_MASK) % DIMS as u64) as usize;
        if key & SIGN_BIT == 0 {
            out[bucket] += w;
        } else {
            out[bucket] -= w;
        }
    }
    normalize(&mut out);
    out
}

/// Cosine similarity over the common prefix of `a` and `b`; 0.0 when either is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if !(na > 0.0 && nb > 0.0) {
        return 0.0;
    }
    let c = dot / (na.sqrt() * nb.sqrt());
    if c.is_finite() {
        c.clamp(-1.0, 1.0) as f32
    } else {
        0.0
    }
}

/// Scales `v` to unit length in place; zero (or non-finite) vectors are left untouched so
/// callers never see NaN.
pub fn normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 && norm.is_finite() {
        let inv = 1.0 / norm;
        for x in v.iter_mut() {
            *x = (f64::from(*x) * inv) as f32;
        }
    }
}

/// Tokenises and turns every token into its feature keys in one pass.
fn collect_features(text: &str) -> Vec<u64> {
    let mut f = Features {
        keys: Vec::with_capacity(text.len().saturating_mul(3).min(1 << 18)),
        word: Vec::with_capacity(MAX_WORD_CHARS + 2),
        prev: None,
        tokens: 0,
    };
    for c in text.chars() {
        if f.tokens >= MAX_TOKENS {
            break;
        }
        if is_cjk(c) {
            // CJK is written without spaces: each ideograph/kana is a token, and the bigrams
            // of neighbours then approximate its two-character words.
            f.flush_word();
            let mut buf = [0u8; 4];
            let h = fnv(b'W', c.encode_utf8(&mut buf).as_bytes());
            f.token(h);
        } else if c.is_alphanumeric() {
            if f.word.is_empty() {
                f.word.push('<');
            }
            for lc in c.to_lowercase() {
                if f.word.len() <= MAX_WORD_CHARS {
                    f.word.push(lc);
                }
            }
        } else {
            f.flush_word();
        }
    }
    if f.tokens < MAX_TOKENS {
        f.flush_word();
    }
    f.keys
}

struct Features {
    keys: Vec<u64>,
    /// The current word, lower-cased and already carrying the leading `<` marker.
    word: Vec<char>,
    prev: Option<u64>,
    tokens: usize,
}

impl Features {
    fn token(&mut self, h: u64) {
        self.keys.push(key(KIND_UNIGRAM, h));
        if let Some(p) = self.prev {
            self.keys.push(key(
                KIND_BIGRAM,
                fmix64(p.rotate_left(23) ^ h ^ 0xb16a_4d5e),
            ));
        }
        self.prev = Some(h);
        self.tokens += 1;
    }

    fn flush_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        self.word.push('>');
        let h = hash_chars(b'W', &self.word[1..self.word.len() - 1]);
        self.token(h);
        for n in 3..=5 {
            for gram in self.word.windows(n) {
                self.keys.push(key(KIND_NGRAM, hash_chars(b'N', gram)));
            }
        }
        self.word.clear();
    }
}

fn key(kind: u64, h: u64) -> u64 {
    (kind << KIND_SHIFT) | (h & !(3 << KIND_SHIFT))
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3400..=0x4DBF   // CJK Extension A
        | 0x4E00..=0x9FFF   // CJK Unified Ideographs
        | 0xF900..=0xFAFF   // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F // Extensions B..F and compatibility supplement
    )
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a with a salt byte, finished with murmur3's fmix64 because FNV's low bits (which
/// pick the bucket) are weak on short inputs.
fn fnv(salt: u8, bytes: &[u8]) -> u64 {
    let mut h = (FNV_OFFSET ^ u64::from(salt)).wrapping_mul(FNV_PRIME);
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    fmix64(h)
}

fn hash_chars(salt: u8, chars: &[char]) -> u64 {
    let mut h = (FNV_OFFSET ^ u64::from(salt)).wrapping_mul(FNV_PRIME);
    let mut buf = [0u8; 4];
    for c in chars {
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }
    fmix64(h)
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Natural logarithm for `x >= 1` from basic IEEE operations only, which (unlike libm's
/// `ln`) round identically on every platform.
fn ln(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 0.0;
    }
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln(m) = 2·atanh(s) with |s| <= 0.172, so a short odd series is exact to ~1e-14.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k < 20.0 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    e as f64 * std::f64::consts::LN_2 + 2.0 * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(a: &str, b: &str) -> f32 {
        cosine(&hashing_embed(a), &hashing_embed(b))
    }

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn is_deterministic() {
        let t = "Deterministic embeddings: the same text, the same vector — always.";
        assert_eq!(hashing_embed(t), hashing_embed(t));
        assert_eq!(hashing_embed(t).len(), DIMS);
    }

    #[test]
    fn is_stable_across_builds() {
        // Pins the exact output so that any change to hashing, tokenising or weighting —
        // which would silently invalidate every stored vector — fails loudly.
        let v = hashing_embed("Hello world");
        let fingerprint: u64 = v.iter().fold(FNV_OFFSET, |h, x| {
            (h ^ u64::from(x.to_bits())).wrapping_mul(FNV_PRIME)
        });
        let nonzero = v.iter().filter(|x| **x != 0.0).count();
        assert!(nonzero > 10, "{nonzero}");
        assert_eq!(fingerprint, fingerprint_of_hello_world());
    }

    fn fingerprint_of_hello_world() -> u64 {
        0x57ad_3f93_7334_8939
    }

    #[test]
    fn has_unit_norm() {
        for t in [
            "a",
            "hello",
            "The quick brown fox jumps over the lazy dog",
            "東京タワー",
        ] {
            let n = norm(&hashing_embed(t));
            assert!((n - 1.0).abs() < 1e-5, "{t}: {n}");
        }
    }

    #[test]
    fn empty_and_symbol_only_text_is_zero_not_nan() {
        for t in ["", "   \n\t ", "!!! ... ---", "🙂🙂"] {
            let v = hashing_embed(t);
            assert_eq!(v.len(), DIMS);
            assert!(v.iter().all(|x| *x == 0.0), "{t:?}");
            assert_eq!(cosine(&v, &hashing_embed("cat")), 0.0);
        }
    }

    #[test]
    fn similar_texts_score_higher_than_unrelated() {
        let close = sim("the cat sat on the mat", "a cat sat on a mat");
        let far = sim(
            "the cat sat on the mat",
            "quarterly revenue grew by eight percent",
        );
        assert!(close > 0.5, "close={close}");
        assert!(far.abs() < 0.2, "far={far}");
        assert!(close > far + 0.3);
    }

    #[test]
    fn paraphrase_sharing_words_beats_unrelated() {
        let q = "how do I deploy the worker to cloudflare";
        let para = sim(q, "deploying a Cloudflare worker: step by step");
        let other = sim(q, "my grandmother's apple pie recipe with cinnamon");
        assert!(para > other + 0.15, "para={para} other={other}");
    }

    #[test]
    fn char_ngrams_link_inflections() {
        let inflected = sim("deployment", "deployments");
        let unrelated = sim("deployment", "banana");
        assert!(inflected > 0.5, "{inflected}");
        assert!(inflected > unrelated + 0.4);
    }

    #[test]
    fn case_insensitive() {
        assert_eq!(hashing_embed("Hello World"), hashing_embed("hello world"));
        assert_eq!(hashing_embed("ÉCOLE"), hashing_embed("école"));
    }

    #[test]
    fn cjk_text_is_embedded_per_character() {
        let v = hashing_embed("我喜欢吃苹果");
        assert!(v.iter().any(|x| *x != 0.0));
        let close = sim("我喜欢吃苹果", "我喜欢苹果");
        let far = sim("我喜欢吃苹果", "今天天气很好");
        assert!(close > far + 0.2, "close={close} far={far}");
        let ja = hashing_embed("ひらがなとカタカナ");
        assert!((norm(&ja) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn repeated_words_are_damped() {
        // Sublinear tf: saying "rust" fifty times must not drown out the rest of the text.
        let spam = format!("{} python", "rust ".repeat(50));
        assert!(sim(&spam, "python") > 0.1, "{}", sim(&spam, "python"));
    }

    #[test]
    fn large_text_embeds_quickly() {
        let base = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod ";
        let big = base.repeat(1_000_000 / base.len() + 1);
        assert!(big.len() >= 1_000_000);
        let started = std::time::Instant::now();
        let v = hashing_embed(&big);
        assert!((norm(&v) - 1.0).abs() < 1e-4);
        // Generous bound that still catches accidental quadratic behaviour in debug builds.
        assert!(started.elapsed().as_secs() < 10);
        // One unbroken "word" of a megabyte must not explode into millions of n-grams.
        let blob = "x".repeat(1_000_000);
        assert!((norm(&hashing_embed(&blob)) - 1.0).abs() < 1e-4);
    }

    #[test]
    fn cosine_edge_cases() {
        assert_eq!(cosine(&[], &[]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[-3.0, 0.0]) + 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert_eq!(cosine(&[f32::NAN, 1.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[f32::INFINITY], &[1.0]), 0.0);
    }

    #[test]
    fn normalize_handles_zero_and_scales() {
        let mut z = [0.0f32; 4];
        normalize(&mut z);
        assert_eq!(z, [0.0; 4]);
        let mut v = [3.0f32, 4.0];
        normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn own_ln_matches_std() {
        for x in [1.0, 1.5, 2.0, 3.0, 10.0, 123.0, 4096.0, 1e6, 3.5e7] {
            let (a, b) = (ln(x), f64::ln(x));
            assert!((a - b).abs() < 1e-12, "{x}: {a} vs {b}");
        }
    }
}
