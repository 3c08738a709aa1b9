//! /etc/default/rjk-node: the settings of rjk-node.service, with every flag the binary accepts
//! documented from its clap definition (a flag added to rjk-node appears here at the next build).

use std::fmt::Write as _;

use clap::CommandFactory;

/// What the operator reads first: how the unit runs the node and where the secrets are.
const HEADER: &str = "\
# /etc/default/rjk-node: settings of rjk-node.service (see rjk-node(8)).
#
# The service runs, as a dynamic user with no privileges:
#   rjk-node --secret-file $CREDENTIALS_DIRECTORY/ajp-secret $RJK_NODE_ARGS
#
# Secrets never go on the command line (any local user could read them in ps). The AJP secret
# is /etc/rjk-node/ajp-secret (generated at installation, readable by root only); systemd hands
# it to the service as a credential. Give the web server the same value, e.g. in
# workers.properties:  worker.node1.secret=<contents of /etc/rjk-node/ajp-secret>
# Other secret files (e.g. a cluster secret) belong in /etc/rjk-node/ as well; the unit loads
# /etc/rjk-node/cluster-secret as the credential `cluster-secret`, readable by the service
# at /run/credentials/rjk-node.service/cluster-secret. With sessions in Redis, put the Redis
# password in /etc/rjk-node/session-store-password (installed empty, readable by root only) and
# add --session-store-password-file /run/credentials/rjk-node.service/session-store-password.
# The unit always passes the AJP secret
# file, so --no-secret needs an override of ExecStart (systemctl edit rjk-node).
#
# After a change: systemctl restart rjk-node
# The service is not enabled at installation (its route and secret must first match the web
# server's workers.properties): systemctl enable --now rjk-node
#
# Every flag rjk-node accepts, with its default:
#
";

/// The value shipped: a route is required, everything else has a default.
const SETTING: &str = "\nRJK_NODE_ARGS=\"--route node1\"\n";

pub fn render() -> String {
    let mut out = String::from(HEADER);
    let cmd = rjk_node::Args::command();
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let mut head = format!("--{long}");
        if arg.get_action().takes_values() {
            for v in arg.get_value_names().unwrap_or_default() {
                let _ = write!(head, " {v}");
            }
        }
        let defaults: Vec<_> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy())
            .collect();
        if arg.is_required_set() {
            head.push_str("  (required)");
        } else if !defaults.is_empty() {
            let _ = write!(head, "  (default: {})", defaults.join(","));
        }
        let _ = writeln!(out, "# {head}");
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        for line in wrap(&help, 92) {
            let _ = writeln!(out, "#     {line}");
        }
        if long.ends_with("secret") && arg.get_action().takes_values() {
            let _ = writeln!(
                out,
                "#     Not here: use the --{long}-file variant with a credential (see above)."
            );
        }
    }
    out.push_str(SETTING);
    out
}

/// Greedy word wrap; a word longer than `width` gets a line of its own.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_documented_with_its_default() {
        let text = render();
        for arg in rjk_node::Args::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long != "help" && long != "version" {
                assert!(
                    text.contains(&format!("# --{long}")),
                    "--{long} missing:\n{text}"
                );
            }
        }
        assert!(
            text.contains("# --ajp ADDR  (default: 127.0.0.1:8009)"),
            "{text}"
        );
        assert!(text.contains("# --route NAME  (required)"), "{text}");
        assert!(text.contains("# --secret S\n"), "{text}");
        assert!(text.contains("use the --secret-file variant"), "{text}");
        assert!(!text.contains("--no-secret-file"), "{text}");
    }

    #[test]
    fn the_shipped_setting_is_a_valid_command_line() {
        let text = render();
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix("RJK_NODE_ARGS=\""))
            .and_then(|v| v.strip_suffix('"'))
            .expect("RJK_NODE_ARGS line");
        let mut argv = vec!["rjk-node", "--secret", "s"];
        argv.extend(value.split_whitespace());
        let args = <rjk_node::Args as clap::Parser>::try_parse_from(argv).unwrap();
        args.to_config().unwrap();
    }

    #[test]
    fn wrap_keeps_words_and_width() {
        let lines = wrap("aaa bbb ccc\nddd", 7);
        assert_eq!(lines, ["aaa bbb", "ccc", "ddd"]);
        assert_eq!(wrap("toolongword x", 4), ["toolongword", "x"]);
    }
}
