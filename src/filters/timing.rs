//! A test-only timing harness for the gzip encoders: variants timed on the
//! same inputs, alternated round by round (this thread's CPU time per
//! call), reporting medians and the median of the per-round ratios against
//! the first variant, which cancels the drifts of a shared machine better
//! than a ratio of medians. The `#[ignore]`d test that uses it
//! (`isal::tests::isal_gain_timing`) says how to run it; its numbers, and
//! those of the x86-64-v3 libdeflate copy it also measured (commit
//! 9ab85e2), are in benches/README.md.

/// The bench page of benches/compare.sh (its awk program: same bytes with
/// the same awk) and a few real files of this machine (missing ones are
/// skipped).
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let prog = r#"BEGIN { srand(7); printf "<html><body>"; while (n < 102400) { w = sprintf("<p class=\"c%d\">word%d text %d</p>\n", int(rand()*50), int(rand()*997), int(rand()*100000)); printf "%s", w; n += length(w) } }"#;
    let mut page = std::process::Command::new("awk")
        .arg(prog)
        .output()
        .expect("awk")
        .stdout;
    page.truncate(102_400);
    let mut v = vec![("bench page".to_string(), page)];
    for f in [
        "/usr/share/doc/qemu-utils/qemu-img.html",
        "/usr/share/javascript/jquery/jquery.min.js",
        "/usr/share/javascript/underscore/underscore.js",
        "/usr/share/iso-codes/json/iso_3166-1.json",
        "/usr/share/xml/iso-codes/iso_639-2.xml",
        "/usr/share/vim/vim90/doc/pattern.txt",
    ] {
        if let Ok(d) = std::fs::read(f) {
            v.push((f.rsplit('/').next().unwrap_or(f).to_string(), d));
        }
    }
    v
}

/// This thread's CPU time in nanoseconds.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One encoder under test: compresses its input, returning the output size.
pub type Variant<'a> = (&'a str, Box<dyn FnMut(&[u8]) -> usize + 'a>);

/// Times every variant on every input of `corpus`, `rounds` times, the
/// variants' order rotating each round, ~2 ms of calls per measurement
/// after a warm-up call; prints per input and for the sum over inputs each
/// variant's median µs per call, its output size and the median of its
/// per-round time ratio to the first variant.
pub fn compare(title: &str, corpus: &[(String, Vec<u8>)], variants: &mut [Variant], rounds: usize) {
    let n = variants.len();
    // [input][variant] -> per-round µs per call; [variant] -> per-round sums.
    let mut t = vec![vec![Vec::new(); n]; corpus.len()];
    let mut totals = vec![Vec::new(); n];
    let mut sizes = vec![vec![0usize; n]; corpus.len()];
    for r in 0..rounds {
        for k in 0..n {
            let j = (k + r) % n;
            let (_, f) = &mut variants[j];
            let mut total = 0.0;
            for (i, (_, data)) in corpus.iter().enumerate() {
                sizes[i][j] = f(data);
                let calls = (400_000 / data.len().max(1)).max(1);
                let start = thread_cpu_ns();
                for _ in 0..calls {
                    std::hint::black_box(f(data));
                }
                let us = (thread_cpu_ns() - start) as f64 / 1000.0 / calls as f64;
                t[i][j].push(us);
                total += us;
            }
            totals[j].push(total);
        }
    }
    println!(
        "{title} ({rounds} rounds; µs per call, median; output bytes; paired ratio to {})",
        variants[0].0
    );
    let line = |name: &str, len: usize, ts: &[Vec<f64>], sizes: Option<&[usize]>| {
        let mut s = format!("  {name:<22} {len:>7} B");
        for (j, v) in ts.iter().enumerate() {
            let ratio = median(v.iter().zip(&ts[0]).map(|(a, b)| a / b).collect());
            let size = sizes.map_or(String::new(), |s| format!(" {:>6} B", s[j]));
            s += &format!(
                " | {}: {:7.1} µs{size} ×{ratio:.3}",
                variants[j].0,
                median(v.clone())
            );
        }
        println!("{s}");
    };
    for (i, (name, data)) in corpus.iter().enumerate() {
        line(name, data.len(), &t[i], Some(&sizes[i]));
    }
    let len = corpus.iter().map(|(_, d)| d.len()).sum();
    let sums: Vec<usize> = (0..n).map(|j| sizes.iter().map(|s| s[j]).sum()).collect();
    line("all (sum)", len, &totals, Some(&sums));
}
