//! Man pages rendered by clap_mangen: `rjk(1)` with a page per subcommand (`rjk-check(1)`...),
//! and `rjk-node(8)`, section 8 because it is a daemon an administrator runs.

use std::io;
use std::path::Path;

use clap::CommandFactory;

pub fn write_all(out: &Path) -> io::Result<()> {
    clap_mangen::generate_to(rjk_cli::args::Cli::command(), out)?;
    let mut page = Vec::new();
    clap_mangen::Man::new(rjk_node::Args::command())
        .section("8")
        .render(&mut page)?;
    std::fs::write(out.join("rjk-node.8"), page)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_subcommand_gets_a_page() {
        let dir = std::env::temp_dir().join(format!("rjk-man-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        super::write_all(&dir).unwrap();
        for page in ["rjk.1", "rjk-check.1", "rjk-map.1", "rjk-node.8"] {
            let text = std::fs::read_to_string(dir.join(page)).unwrap();
            assert!(text.starts_with(".ie"), "{page} is not roff: {text:.80}");
        }
        let node = std::fs::read_to_string(dir.join("rjk-node.8")).unwrap();
        assert!(node.contains(".TH rjk-node 8"), "{node:.200}");
        assert!(node.contains("secret\\-file"), "flags are documented");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
