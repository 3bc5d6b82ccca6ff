//! Smooth weighted round-robin exactly as nginx's `ngx_http_upstream_get_peer`
//! (nginx/nginx: src/http/ngx_http_upstream_round_robin.c): strict `>` so ties
//! go to the earliest peer; weights {5,1,1} give a a b a c a a.

use super::state::PeerState;
use super::Tried;

/// Picks among the usable, untried peers and updates their weights. Does not
/// do the "chosen" bookkeeping (`checked`, `conns`): the caller does.
pub fn pick(peers: &mut [PeerState], tried: &Tried, now: u64) -> Option<usize> {
    pick_among(peers, |i, p| !tried.contains(i) && p.usable(now))
}

/// The weight walk over the peers for which `eligible` holds (also used by
/// least_conn among its tied peers and by consistent hash among the peers of
/// one server name).
pub fn pick_among(peers: &mut [PeerState], eligible: impl Fn(usize, &PeerState) -> bool) -> Option<usize> {
    let mut total = 0i64;
    let mut best: Option<usize> = None;
    let mut best_cw = i64::MIN;
    for (i, p) in peers.iter_mut().enumerate() {
        if !eligible(i, p) {
            continue;
        }
        p.current_weight += p.effective_weight;
        total += p.effective_weight;
        if p.effective_weight < p.weight {
            p.effective_weight += 1;
        }
        if best.is_none() || p.current_weight > best_cw {
            best = Some(i);
            best_cw = p.current_weight;
        }
    }
    let b = best?;
    if let Some(p) = peers.get_mut(b) {
        p.current_weight -= total;
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(w: &[u32]) -> Vec<PeerState> {
        w.iter().map(|&w| PeerState::weighted(w)).collect()
    }

    #[test]
    fn nginx_sequence_5_1_1() {
        let mut p = peers(&[5, 1, 1]);
        let t = Tried::default();
        let seq: String = (0..14)
            .map(|_| (b'a' + pick(&mut p, &t, 1).unwrap() as u8) as char)
            .collect();
        assert_eq!(seq, "aabacaaaabacaa");
    }

    #[test]
    fn exact_split_3_2_1() {
        let mut p = peers(&[3, 2, 1]);
        let t = Tried::default();
        let mut n = [0u32; 3];
        for _ in 0..10_000 {
            n[pick(&mut p, &t, 1).unwrap()] += 1;
        }
        // 10 000 = 1666 full cycles of 6 plus the first 4 picks of the next one.
        for (got, want) in n.iter().zip([5000u32, 3333, 1667]) {
            assert!(got.abs_diff(want) <= 1, "{n:?}");
        }
        assert_eq!(n.iter().sum::<u32>(), 10_000);
    }

    #[test]
    fn skips_tried_down_and_suspended() {
        let mut p = peers(&[1, 1, 1]);
        let mut t = Tried::default();
        t.insert(1);
        for _ in 0..10 {
            assert_ne!(pick(&mut p, &t, 1), Some(1));
        }
        p[0].down = true;
        p[2].fails = 1;
        p[2].checked = 1;
        assert_eq!(pick(&mut p, &t, 5), None);
        assert_eq!(pick(&mut p, &t, 12), Some(2), "window over");
    }

    #[test]
    fn lowered_effective_weight_recovers_slowly() {
        let mut p = peers(&[2, 2]);
        p[0].effective_weight = 0;
        let t = Tried::default();
        let seq: Vec<usize> = (0..6).map(|_| pick(&mut p, &t, 1).unwrap()).collect();
        // effective 0 -> 1 -> 2: b first, then a gets its share back.
        assert_eq!(seq, [1, 1, 0, 1, 0, 1]);
    }
}
