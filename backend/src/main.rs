//! The `rampart-backend` binary: see the library's docs for the endpoints.

use rampart_backend::{parse_args, raise_nofile, Listener, USAGE};

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("rampart-backend: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    raise_nofile();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart-backend: runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async {
        for addr in &args.listen {
            match Listener::bind(*addr, args.id.as_deref()).and_then(|l| Ok((l.local_addr()?, l))) {
                Ok((local, l)) => {
                    println!("listening on {local}");
                    tokio::spawn(l.serve());
                }
                Err(e) => {
                    eprintln!("rampart-backend: listen {addr}: {e}");
                    std::process::exit(1);
                }
            }
        }
        let _ = tokio::signal::ctrl_c().await;
    });
}
