//! `ringgatectl restore -f FILE`: applies a file of `ringgatectl` lines (as
//! `save` prints them) in three passes, so that a bad file changes nothing:
//! parse every line, then plan every request against the namespace's state,
//! then send them.

mod parse;
mod plan;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::Path;

use ringgate_netlink::Client;

use crate::exit::Failure;
use crate::state::Target;

pub(crate) fn run(file: &Path) -> Result<(), Failure> {
    let (name, text) = read(file)?;
    // The file is parsed before connecting: a bad line is reported the
    // same whether or not the module is loaded.
    let lines = parse::parse(&text).map_err(|bad| Failure::bad_input(format!("{name}: {bad}")))?;
    let mut client = Client::connect()?;
    restore(&mut client, &lines).map_err(|failure| Failure {
        message: format!("{name}: {}", failure.message),
        ..failure
    })
}

/// Plans every line against `target`'s state, then applies the plan. A
/// request the kernel refuses stops the restore at its line (what only the
/// kernel can check, such as a VIP taken that no interface has, is found
/// there); the lines before it stay applied.
fn restore(target: &mut impl Target, lines: &[parse::Line]) -> Result<(), Failure> {
    let state = target.state()?;
    let steps = plan::plan(&state, lines).map_err(|bad| Failure::bad_input(bad.to_string()))?;
    for step in &steps {
        target.apply(&step.change).map_err(|e| {
            let failure = Failure::from(e);
            Failure {
                message: format!("line {}: {}", step.line, failure.message),
                ..failure
            }
        })?;
    }
    Ok(())
}

/// The file's name for messages and its text; `-` is standard input.
fn read(file: &Path) -> Result<(String, String), Failure> {
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::other(format!("reading standard input: {e}")))?;
        return Ok(("<stdin>".into(), text));
    }
    let name = file.display().to_string();
    text = std::fs::read_to_string(file).map_err(|e| Failure::other(format!("{name}: {e}")))?;
    Ok((name, text))
}
