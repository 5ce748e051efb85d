//! Helpers for the local vector index: 1024-bit SimHash sketches (a structured random
//! projection: random signs, permutation, Walsh–Hadamard) scanned by Hamming distance,
//! and compact encodings for D1.

use base64::Engine;
use std::sync::OnceLock;

pub const SKETCH_WORDS: usize = 16;
pub type Sketch = [u64; SKETCH_WORDS];
const N: usize = 1024;

struct Projection {
    signs1: Vec<f32>,
    signs2: Vec<f32>,
    perm: Vec<usize>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn projection() -> &'static Projection {
    static P: OnceLock<Projection> = OnceLock::new();
    P.get_or_init(|| {
        let mut s = 0x5eed_u64;
        let signs = |s: &mut u64| {
            (0..N)
                .map(|_| if splitmix(s) & 1 == 0 { 1.0 } else { -1.0 })
                .collect::<Vec<f32>>()
        };
        let signs1 = signs(&mut s);
        let signs2 = signs(&mut s);
        let mut perm: Vec<usize> = (0..N).collect();
        for i in (1..N).rev() {
            let j = (splitmix(&mut s) % (i as u64 + 1)) as usize;
            perm.swap(i, j);
        }
        Projection {
            signs1,
            signs2,
            perm,
        }
    })
}

fn fwht(a: &mut [f32]) {
    let mut h = 1;
    while h < a.len() {
        for i in (0..a.len()).step_by(h * 2) {
            for j in i..i + h {
                let (x, y) = (a[j], a[j + h]);
                a[j] = x + y;
                a[j + h] = x - y;
            }
        }
        h *= 2;
    }
}

pub fn sketch(v: &[f32]) -> Sketch {
    let p = projection();
    let mut a = vec![0f32; N];
    for (i, x) in v.iter().take(N).enumerate() {
        a[i] = x * p.signs1[i];
    }
    fwht(&mut a);
    let mut b: Vec<f32> = p.perm.iter().map(|&i| a[i] * p.signs2[i]).collect();
    fwht(&mut b);
    let mut s = [0u64; SKETCH_WORDS];
    for (i, x) in b.iter().enumerate() {
        if *x > 0.0 {
            s[i / 64] |= 1 << (i % 64);
        }
    }
    s
}

pub fn hamming(a: &Sketch, b: &Sketch) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Indices of the `n` sketches nearest to `query`, nearest first (counting by distance).
pub fn top_candidates(query: &Sketch, sketches: &[Sketch], n: usize) -> Vec<(usize, u32)> {
    let dists: Vec<u16> = sketches.iter().map(|s| hamming(query, s) as u16).collect();
    let mut counts = vec![0usize; N + 1];
    for d in &dists {
        counts[*d as usize] += 1;
    }
    let mut cutoff = 0;
    let mut total = 0;
    while cutoff <= N && total + counts[cutoff] < n {
        total += counts[cutoff];
        cutoff += 1;
    }
    let mut out: Vec<(usize, u32)> = dists
        .iter()
        .enumerate()
        .filter(|(_, d)| (**d as usize) <= cutoff)
        .map(|(i, d)| (i, u32::from(*d)))
        .collect();
    out.sort_by_key(|(i, d)| (*d, *i));
    out.truncate(n);
    out
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

pub fn sketch_to_bytes(s: &Sketch) -> [u8; 128] {
    let mut out = [0u8; 128];
    for (i, w) in s.iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    out
}

pub fn sketch_from_bytes(b: &[u8]) -> Option<Sketch> {
    if b.len() != 128 {
        return None;
    }
    let mut s = [0u64; SKETCH_WORDS];
    for (i, w) in s.iter_mut().enumerate() {
        *w = u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().ok()?);
    }
    Some(s)
}

pub fn encode_sketch(s: &Sketch) -> String {
    b64().encode(sketch_to_bytes(s))
}

pub fn decode_sketch(s: &str) -> Option<Sketch> {
    sketch_from_bytes(&b64().decode(s).ok()?)
}

pub fn encode_f32s(v: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    b64().encode(bytes)
}

pub fn decode_f32s(s: &str) -> Option<Vec<f32>> {
    let bytes = b64().decode(s).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearby_vectors_have_nearby_sketches() {
        let a: Vec<f32> = (0..768).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        let mut b = a.clone();
        b[3] += 2.0;
        let c: Vec<f32> = (0..768).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
        assert_eq!(hamming(&sketch(&a), &sketch(&a)), 0);
        assert!(hamming(&sketch(&a), &sketch(&b)) < hamming(&sketch(&a), &sketch(&c)));
        assert_eq!(decode_sketch(&encode_sketch(&sketch(&a))), Some(sketch(&a)));
        assert_eq!(decode_f32s(&encode_f32s(&a)), Some(a.clone()));
        let all = [sketch(&c), sketch(&b), sketch(&a)];
        assert_eq!(top_candidates(&sketch(&a), &all, 1)[0].0, 2);
    }
}
