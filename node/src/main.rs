//! `rjk-node`: serve the built-in demo application over AJP (see `--help`).

use clap::Parser;
use rjk_node::{demo::Demo, logger, Args, Node};

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    logger::init(args.log_level);
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rjk-node: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rjk-node: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let app = Demo::new(&cfg.route);
        let node = match Node::start(cfg, app).await {
            Ok(n) => n,
            Err(e) => {
                eprintln!("rjk-node: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        log::info!("shutting down: no new connections, finishing requests in flight");
        node.stop().await;
        log::info!("stopped");
        std::process::ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::error!("cannot install signal handlers: stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
