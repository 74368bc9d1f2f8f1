//! Reading a new password without it ever being on the command line: from standard input
//! (`--password-stdin`, one line) or, on a terminal, from a prompt that does not echo it,
//! asked twice.

use std::io::{BufRead, IsTerminal};

use super::AdminError;

/// Where the password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The first line of standard input.
    Stdin,
    /// A prompt on the terminal (an error when there is none).
    Prompt,
}

/// Reads the password from `source`; a blank one is invalid, as through the API.
pub fn read(source: Source) -> Result<String, AdminError> {
    let password = match source {
        Source::Stdin => first_line(std::io::stdin().lock())
            .map_err(|e| AdminError::Failed(format!("cannot read standard input: {e}")))?,
        Source::Prompt => prompt()?,
    };
    check(password)
}

fn prompt() -> Result<String, AdminError> {
    if !std::io::stdin().is_terminal() {
        return Err(AdminError::Usage(
            "no terminal to ask for the password on: give it on standard input with --password-stdin"
                .into(),
        ));
    }
    let failed = |e: std::io::Error| AdminError::Failed(format!("cannot read the password: {e}"));
    let first = rpassword::prompt_password("New password: ").map_err(failed)?;
    let again = rpassword::prompt_password("Repeat it: ").map_err(failed)?;
    if first != again {
        return Err(AdminError::invalid("password", "The two passwords differ."));
    }
    Ok(first)
}

/// The first line of `input` without its line ending (a password may hold other whitespace).
fn first_line(mut input: impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

fn check(password: String) -> Result<String, AdminError> {
    if password.trim().is_empty() {
        return Err(AdminError::invalid(
            "password",
            "This field may not be blank.",
        ));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_line_ending_is_taken_off() {
        assert_eq!(first_line(" a b \r\nrest".as_bytes()).unwrap(), " a b ");
        assert_eq!(first_line("x\n".as_bytes()).unwrap(), "x");
        assert_eq!(first_line("no newline".as_bytes()).unwrap(), "no newline");
        assert!(check("  ".into()).is_err());
        assert!(check(String::new()).is_err());
        assert_eq!(check(" p ".into()).unwrap(), " p ");
    }
}
