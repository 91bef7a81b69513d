//! The configuration tables of `docs/configuration.md`, rendered from the clap
//! tree, so that the page and `--help` say the same thing and neither can
//! drift from the code: a setting added, renamed or given another default
//! fails the test below until the page is regenerated.
//!
//! `UPDATE_DOCS=1 cargo test --lib config` rewrites the page between its
//! markers instead of failing.

use std::fmt::Write;

use clap::{Arg, Command, CommandFactory};

use super::{Config, DEVELOPMENT_TOKEN_SECRET};

const PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
const START: &str = "<!-- config:start -->";
const END: &str = "<!-- config:end -->";

/// One table per `--help` group, in the order `--help` shows them, then one
/// per command with settings of its own.
fn render(root: &Command) -> String {
    let mut groups: Vec<(String, Vec<&Arg>)> = Vec::new();
    for arg in root.get_arguments().filter(|arg| arg.get_env().is_some()) {
        let heading = arg.get_help_heading().unwrap_or("Options").to_string();
        match groups.iter_mut().find(|(name, _)| *name == heading) {
            Some((_, args)) => args.push(arg),
            None => groups.push((heading, vec![arg])),
        }
    }
    // Without `build()` a subcommand holds only its own arguments, not the
    // global ones it inherits, so nothing is listed twice.
    for command in root.get_subcommands() {
        let own: Vec<&Arg> = command.get_arguments().filter(|arg| arg.get_env().is_some()).collect();
        if !own.is_empty() {
            groups.push((format!("`{} {}`", root.get_name(), command.get_name()), own));
        }
    }
    let mut out = String::from("\n");
    for (heading, args) in groups {
        let _ = write!(
            out,
            "\n### {heading}\n\n| variable | flag | default | meaning |\n|---|---|---|---|\n"
        );
        for arg in args {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                variable(arg),
                flag(arg),
                default(arg),
                meaning(arg)
            );
        }
    }
    out.push('\n');
    out
}

fn variable(arg: &Arg) -> String {
    arg.get_env()
        .map_or(String::new(), |env| format!("`{}`", env.to_string_lossy()))
}

fn flag(arg: &Arg) -> String {
    arg.get_long().map_or(String::new(), |long| format!("`--{long}`"))
}

fn default(arg: &Arg) -> String {
    let values: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|value| value.to_string_lossy().into_owned())
        .collect();
    if arg.is_hide_default_value_set() {
        "not shown".to_string()
    } else if values.is_empty() {
        "none".to_string()
    } else if values.iter().all(String::is_empty) {
        "empty".to_string()
    } else {
        format!("`{}`", values.join(","))
    }
}

/// The whole help (`--help`, not `-h`) on one line, closed with a period, and
/// the values it takes when clap knows them.
fn meaning(arg: &Arg) -> String {
    let help = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|help| help.to_string())
        .unwrap_or_default();
    let mut text = help.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() && !text.ends_with('.') {
        text.push('.');
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|value| !value.is_hide_set())
        .map(|value| format!("`{}`", value.get_name()))
        .collect();
    if !values.is_empty() && arg.get_action().takes_values() {
        let _ = write!(text, " One of {}.", values.join(", "));
    }
    text.replace('|', "\\|")
}

/// The page with `tables` between its markers, or why it cannot be.
fn with_tables(page: &str, tables: &str) -> Result<String, String> {
    let start = page.find(START).ok_or(format!("{PAGE} lacks {START}"))? + START.len();
    let end = page.find(END).ok_or(format!("{PAGE} lacks {END}"))?;
    if end < start {
        return Err(format!("{END} comes before {START} in {PAGE}"));
    }
    Ok(format!("{}{tables}{}", &page[..start], &page[end..]))
}

#[test]
fn the_configuration_page_lists_every_setting_as_the_code_declares_it() {
    let tables = render(&Config::command());
    let page = std::fs::read_to_string(PAGE).unwrap_or_else(|err| panic!("{PAGE}: {err}"));
    let expected = with_tables(&page, &tables).unwrap_or_else(|err| panic!("{err}"));
    if std::env::var_os("UPDATE_DOCS").is_some_and(|value| value == "1") {
        std::fs::write(PAGE, &expected).unwrap_or_else(|err| panic!("{PAGE}: {err}"));
        return;
    }
    assert!(
        page == expected,
        "docs/configuration.md's tables differ from the settings in src/config.rs: \
         run `UPDATE_DOCS=1 cargo test --lib config` and commit the page"
    );
}

#[test]
fn the_tables_hold_every_variable_once_and_no_secret() {
    let root = Config::command();
    let tables = render(&root);
    let mut variables = Vec::new();
    let commands = std::iter::once(&root).chain(root.get_subcommands());
    for arg in commands.flat_map(Command::get_arguments) {
        if let Some(env) = arg.get_env() {
            variables.push(env.to_string_lossy().into_owned());
        }
    }
    assert!(variables.len() > 40, "only {} variables", variables.len());
    for variable in &variables {
        assert_eq!(
            tables.matches(&format!("| `{variable}` |")).count(),
            1,
            "{variable} is not listed exactly once"
        );
    }
    assert!(
        !tables.contains(DEVELOPMENT_TOKEN_SECRET),
        "the development secret is shown"
    );
    for line in tables.lines().filter(|line| line.starts_with("| `")) {
        assert_eq!(line.matches(" | ").count(), 3, "a cell holds a bare `|`: {line}");
    }
}

#[test]
fn urls_and_secrets_are_never_echoed_from_the_environment() {
    let root = Config::command();
    let mut hidden = 0;
    for arg in root.get_arguments() {
        let Some(env) = arg.get_env().map(|env| env.to_string_lossy().into_owned()) else {
            continue;
        };
        let secret = ["_URL", "_CLUSTER", "_SECRET", "_ADMIN_TOKEN", "_KEY"]
            .iter()
            .any(|end| env.ends_with(end));
        if secret {
            assert!(arg.is_hide_env_values_set(), "--help would echo {env}");
            hidden += 1;
        }
    }
    assert_eq!(
        hidden, 8,
        "REDIS_URL, the cluster, DATABASE_URL, the room's URL, the JWKS URL and three secrets"
    );
}

#[test]
fn the_page_is_rewritten_between_its_markers_only() {
    let page = format!("intro\n{START}\nold\n{END}\nafter\n");
    assert_eq!(
        with_tables(&page, "\nnew\n").unwrap(),
        format!("intro\n{START}\nnew\n{END}\nafter\n")
    );
    assert!(with_tables("no markers", "x").is_err());
    assert!(with_tables(&format!("{END}{START}"), "x").is_err());
}
