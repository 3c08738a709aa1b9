//! `rjk-package-docs OUTDIR`: write the documents the Debian packages ship that are generated
//! from the programs' clap definitions, so none of them can disagree with `--help`:
//! `rjk.1` (and one page per subcommand), `rjk-node.8`, and `rjk-node.default`
//! (installed as /etc/default/rjk-node). `packaging/build-deb.sh` runs it.

mod defaults;
mod man;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: rjk-package-docs OUTDIR");
        return ExitCode::from(2);
    };
    let out = PathBuf::from(out);
    let written = std::fs::create_dir_all(&out)
        .and_then(|()| man::write_all(&out))
        .and_then(|()| std::fs::write(out.join("rjk-node.default"), defaults::render()));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rjk-package-docs: writing into {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
