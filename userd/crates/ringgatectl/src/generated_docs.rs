//! `ringgatectl completions SHELL` and `ringgatectl man`: generated from the
//! clap definition, so they list every command, option and value (the
//! spec's hooks and schedulers included) as the program accepts them.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::exit::Failure;

pub(crate) fn completions(shell: Shell) -> Result<(), Failure> {
    let mut out = Vec::new();
    write_completions(shell, &mut out);
    write_out(&out)
}

/// The top-level page on stdout, or every page into `dir` (the pages the
/// top one refers to, `ringgatectl-vip(1)` and so on).
pub(crate) fn man(dir: Option<&Path>) -> Result<(), Failure> {
    match dir {
        None => write_out(&man_page()?),
        Some(dir) => clap_mangen::generate_to(Cli::command(), dir)
            .map_err(|e| Failure::other(format!("{}: {e}", dir.display()))),
    }
}

fn write_completions(shell: Shell, out: &mut Vec<u8>) {
    clap_complete::generate(shell, &mut Cli::command(), "ringgatectl", out);
}

/// The man page, one roff document for `man -l -`: the synopsis, every
/// global option, the subcommands with their summaries, and the exit codes.
fn man_page() -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::other(format!("rendering the man page: {e}")))?;
    Ok(out)
}

fn write_out(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("writing: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(shell: Shell) -> String {
        let mut out = Vec::new();
        write_completions(shell, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The completions offer the commands and the spec's values.
    #[test]
    fn completions_know_commands_and_values() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = completion(shell);
            for word in ["restore", "monitor", "pre-routing", "arp-out", "lc", "drop"] {
                assert!(script.contains(word), "{shell}: no {word}");
            }
        }
    }

    #[test]
    fn every_subcommand_gets_a_page() {
        let dir = std::env::temp_dir().join(format!("ringgatectl-man-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        man(Some(&dir)).unwrap();
        for page in [
            "ringgatectl.1",
            "ringgatectl-vip-add.1",
            "ringgatectl-restore.1",
        ] {
            assert!(dir.join(page).exists(), "no {page}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_man_page_names_the_commands_and_exit_codes() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.starts_with(".ie"), "roff: {}", &page[..40]);
        for word in [
            "ringgatectl",
            "restore",
            "monitor",
            "completions",
            "not loaded",
        ] {
            assert!(page.contains(word), "no {word} in the man page");
        }
    }
}
