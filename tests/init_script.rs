//! The init-script contract, driven from a shell script exactly as an
//! operator's scripts do (tests/init_script.sh).

mod common;

#[test]
fn init_script_contract() {
    let out = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/init_script.sh"))
        .arg(common::RAMPART)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("init script contract: ok"), "{text}");
}
