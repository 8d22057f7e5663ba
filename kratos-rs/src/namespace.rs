//! `namespace validate FILE…`: parses and type-checks Ory Permission Language files with
//! keto-core, printing every error and warning with its file, line and column, the source
//! line and a caret under the column.

use std::path::PathBuf;

use keto_core::opl::{Diagnostic, Severity};

/// One diagnostic as `file:line:column: error: message`, then the source line and a caret
/// (with `~` under the rest of the span on that line).
pub fn render(file: &str, source: &str, d: &Diagnostic) -> String {
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!(
        "{file}:{}:{}: {kind}: {}\n",
        d.start.line, d.start.column, d.message
    );
    // keto-core's rendering: its first line is the message, then the line and the caret.
    for line in d.render(source).lines().skip(1) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// What validating some files found.
#[derive(Debug, Default)]
pub struct Report {
    /// The rendered diagnostics, in file and source order.
    pub text: String,
    /// Errors found (a file that cannot be read counts as one).
    pub errors: usize,
    /// Warnings found.
    pub warnings: usize,
}

/// Validates `files`.
pub fn validate(files: &[PathBuf]) -> Report {
    let mut report = Report::default();
    for file in files {
        let shown = file.display().to_string();
        let source = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                report.text.push_str(&format!("{shown}: error: {e}\n"));
                report.errors = report.errors.saturating_add(1);
                continue;
            }
        };
        let out = keto_core::opl::parse(&source);
        for d in &out.diagnostics {
            match d.severity {
                Severity::Error => report.errors = report.errors.saturating_add(1),
                Severity::Warning => report.warnings = report.warnings.saturating_add(1),
            }
            report.text.push_str(&render(&shown, &source, d));
        }
        if !out.has_errors() {
            report.text.push_str(&format!(
                "{shown}: {} namespace(s) valid\n",
                out.namespaces.len()
            ));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_shows_its_position_line_and_caret() {
        let dir = std::env::temp_dir().join(format!("opl-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.ts");
        std::fs::write(
            &file,
            "class User implements Namespace {}\nclass Doc implements Namespace {\n  related: { viewers: Usr[] }\n}\n",
        )
        .unwrap();
        let report = validate(std::slice::from_ref(&file));
        assert_eq!(report.errors, 1, "{}", report.text);
        assert!(report.text.contains("bad.ts:3:"), "{}", report.text);
        assert!(report.text.contains("viewers: Usr[]"), "{}", report.text);
        assert!(report.text.contains('^'), "{}", report.text);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
