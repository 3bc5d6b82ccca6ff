use super::*;

/// Feeds `input` in pieces of the given sizes (cycled), collecting data; returns the body and
/// the bytes left after the end, or the error.
fn run(input: &[u8], pieces: &[usize]) -> Result<(Vec<u8>, Vec<u8>, bool), ChunkError> {
    let mut dec = ChunkedDecoder::new();
    let mut body = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut k = 0;
    while fed < input.len() || !pending.is_empty() {
        if fed < input.len() {
            let n = pieces[k % pieces.len()].max(1).min(input.len() - fed);
            k += 1;
            pending.extend_from_slice(&input[fed..fed + n]);
            fed += n;
        }
        loop {
            let step = dec.decode(&pending)?;
            if let Some(r) = step.data.clone() {
                assert!(!r.is_empty(), "empty data range");
                body.extend_from_slice(&pending[r]);
            }
            pending.drain(..step.consumed);
            if step.done {
                assert!(dec.is_done());
                return Ok((
                    body,
                    pending
                        .clone()
                        .into_iter()
                        .chain(input[fed..].iter().copied())
                        .collect(),
                    true,
                ));
            }
            if pending.is_empty() || step.consumed == 0 {
                break;
            }
        }
        if fed >= input.len() {
            break;
        }
    }
    Ok((body, pending, false))
}

const SPLITS: &[&[usize]] = &[&[usize::MAX], &[1], &[2], &[3], &[7], &[1, 5, 2], &[13, 1]];

#[test]
fn valid_bodies_any_split() {
    let cases: &[(&[u8], &[u8], &[u8])] = &[
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello", b""),
        (
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET",
            b"hello world",
            b"GET",
        ),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", b""),
        (b"a\r\n0123456789\r\n00000\r\n\r\n", b"0123456789", b""),
        (b"0005\r\nhello\r\n0\r\n\r\n", b"hello", b""),
        // extensions, also after SP/HT (nginx skips them whole)
        (b"5;name=value\r\nhello\r\n0;last\r\n\r\n", b"hello", b""),
        (b"5 ;x\r\nhello\r\n0\t\r\n\r\n", b"hello", b""),
        (b"5;x=\"a\\\"b\"\r\nhello\r\n0\r\n\r\n", b"hello", b""),
        // trailers are read and discarded
        (
            b"5\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\nNEXT",
            b"hello",
            b"NEXT",
        ),
        // nginx 1.22 accepts bare LF line ends everywhere in the framing
        (b"5\nhello\n0\n\n", b"hello", b""),
        (b"5;e\nhello\r\n0;e\nT: x\n\n", b"hello", b""),
        // data may hold CR/LF bytes
        (b"4\r\n\r\n\r\n\r\n0\r\n\r\n", b"\r\n\r\n", b""),
        (b"0\r\n\r\n", b"", b""),
    ];
    for (input, body, rest) in cases {
        for split in SPLITS {
            let got = run(input, split)
                .unwrap_or_else(|e| panic!("{:?} {split:?}: {e}", String::from_utf8_lossy(input)));
            assert_eq!(
                got,
                (body.to_vec(), rest.to_vec(), true),
                "{:?} split {split:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn incomplete_bodies_wait() {
    for input in [
        &b"5\r\nhel"[..],
        b"5\r\nhello\r\n",
        b"5\r\nhello\r\n0\r\n",
        b"0\r\nX: y\r\n",
        b"1a",
    ] {
        for split in SPLITS {
            let (_, _, done) = run(input, split).unwrap();
            assert!(!done, "{:?}", String::from_utf8_lossy(input));
        }
    }
}

#[test]
fn malformed_bodies_fail() {
    let cases: &[&[u8]] = &[
        b"\r\n5\r\nhello\r\n0\r\n\r\n", // no size
        b"g\r\n",                       // not hex
        b"-5\r\n",                      // sign
        b"5\r\nhelloX\r\n0\r\n\r\n",    // data longer than the size
        b"5\r\nhello \r\n0\r\n\r\n",    // junk before CRLF after data
        b"5\rhello\r\n",                // CR not followed by LF
        b"5\r\nhello\r\r\n",            // CR CR after data
        b"5x\r\n",                      // junk after size
        b"0\r\n\r\r",                   // CR not followed by LF at the end
        b"0\r\nX: y\rz",                // CR inside a trailer
        b"0x5\r\n",                     // no 0x prefix
        b" 5\r\n",                      // leading space
    ];
    for input in cases {
        for split in SPLITS {
            assert!(
                run(input, split).is_err(),
                "{:?} split {split:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn size_overflow() {
    // 2^63 - 1 is nginx's maximum; the guard fails once the size passes MAX / 16 before a byte.
    assert_eq!(run(b"10000000000000000\r\n", &[usize::MAX]), Err(TOO_LARGE));
    assert_eq!(run(b"ffffffffffffffffffff\r\n", &[1]), Err(TOO_LARGE));
    // 0x7fffffffffffffff itself is over MAX - 5.
    assert_eq!(run(b"7fffffffffffffff\r\n", &[usize::MAX]), Err(TOO_LARGE));
    // 0x0800000000000000 = MAX / 16 + 1: the guard fires on the CR.
    assert_eq!(run(b"800000000000000\r\n", &[usize::MAX]), Err(TOO_LARGE));
    // Just under the guard: accepted, waits for data.
    let mut dec = ChunkedDecoder::new();
    let step = dec.decode(b"7ffffffffffffff\r\nab").unwrap();
    assert_eq!(step.data, Some(17..19));
    assert_eq!(dec.remaining_in_chunk(), 0x7ff_ffff_ffff_ffff - 2);
}

#[test]
fn data_is_a_subslice_without_copy() {
    let input = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let mut dec = ChunkedDecoder::new();
    let s1 = dec.decode(input).unwrap();
    assert_eq!(
        s1,
        Step {
            consumed: 6,
            data: Some(3..6),
            done: false
        }
    );
    let s2 = dec.decode(&input[6..]).unwrap();
    assert_eq!(
        s2,
        Step {
            consumed: 7,
            data: Some(5..7),
            done: false
        }
    );
    let s3 = dec.decode(&input[13..]).unwrap();
    assert_eq!(
        s3,
        Step {
            consumed: 7,
            data: None,
            done: true
        }
    );
    // Once done, nothing more is consumed.
    assert_eq!(
        dec.decode(b"more").unwrap(),
        Step {
            consumed: 0,
            data: None,
            done: true
        }
    );
}

#[test]
fn encoder() {
    let cases: &[(usize, &[u8])] = &[
        (1, b"1\r\n"),
        (10, b"a\r\n"),
        (255, b"ff\r\n"),
        (4096, b"1000\r\n"),
        (usize::MAX, b"ffffffffffffffff\r\n"),
    ];
    for (len, want) in cases {
        let mut out = Vec::new();
        write_chunk_header(*len, &mut out);
        assert_eq!(out, *want);
    }
    // What the encoder writes, the decoder reads back.
    let mut wire = Vec::new();
    for part in [&b"hello"[..], &[b'x'; 300][..]] {
        write_chunk_header(part.len(), &mut wire);
        wire.extend_from_slice(part);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(LAST_CHUNK);
    let (body, rest, done) = run(&wire, &[usize::MAX]).unwrap();
    assert!(done && rest.is_empty());
    assert_eq!(body.len(), 305);
}
