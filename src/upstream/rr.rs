//! Smooth weighted round-robin exactly as nginx's `ngx_http_upstream_get_peer`
//! (nginx/nginx: src/http/ngx_http_upstream_round_robin.c): strict `>` so ties
//! go to the earliest peer; weights {5,1,1} give a a b a c a a.

#[derive(Debug, Clone)]
pub struct Wrr {
    weight: Vec<i64>,
    effective: Vec<i64>,
    current: Vec<i64>,
}

impl Wrr {
    pub fn new(weights: &[u32]) -> Wrr {
        let weight: Vec<i64> = weights.iter().map(|&w| i64::from(w.max(1))).collect();
        Wrr {
            effective: weight.clone(),
            current: vec![0; weight.len()],
            weight,
        }
    }

    /// Picks among the peers for which `usable(i)` holds.
    pub fn next(&mut self, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for i in 0..self.weight.len() {
            if !usable(i) {
                continue;
            }
            self.current[i] += self.effective[i];
            total += self.effective[i];
            if self.effective[i] < self.weight[i] {
                self.effective[i] += 1;
            }
            if best.is_none_or(|b| self.current[i] > self.current[b]) {
                best = Some(i);
            }
        }
        let b = best?;
        self.current[b] -= total;
        Some(b)
    }

    /// A failed attempt lowers the peer's effective weight (`weight / max_fails`).
    pub fn failed(&mut self, i: usize, max_fails: u32) {
        if let (Some(e), Some(w)) = (self.effective.get_mut(i), self.weight.get(i)) {
            if max_fails > 0 {
                *e = (*e - w / i64::from(max_fails)).max(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_sequence_5_1_1() {
        let mut w = Wrr::new(&[5, 1, 1]);
        let seq: String = (0..14)
            .map(|_| (b'a' + w.next(|_| true).unwrap() as u8) as char)
            .collect();
        assert_eq!(seq, "aabacaaaabacaa");
    }

    #[test]
    fn exact_split_3_2_1() {
        let mut w = Wrr::new(&[3, 2, 1]);
        let mut n = [0u32; 3];
        for _ in 0..6000 {
            n[w.next(|_| true).unwrap()] += 1;
        }
        assert_eq!(n, [3000, 2000, 1000]);
    }

    #[test]
    fn skips_unusable() {
        let mut w = Wrr::new(&[1, 1, 1]);
        for _ in 0..10 {
            assert_ne!(w.next(|i| i != 1), Some(1));
        }
        assert_eq!(w.next(|_| false), None);
    }
}
