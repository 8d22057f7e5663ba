//! Jsonnet templates, evaluated as Kratos evaluates them for request bodies (feature
//! `jsonnet`, on with `web-hook` and `courier-http`).
//!
//! A [`JsonnetTemplate`] is checked when it is made (lexed, parsed and analysed: a template
//! that does not load is an error then, not at the first request) and evaluated with a
//! context as Kratos does (`vm.TLACode("ctx", json)`): the context's JSON is the code of the
//! top-level argument `ctx`, so a template that is a function (`function(ctx) {…}`) is called
//! with it, and any other template is evaluated as it is. The output is the template's value
//! as JSON text. Imports and `std.native` have nothing to reach (Kratos's sandboxed VM
//! allows no imports either), nor has `std.extVar` except in
//! [`JsonnetTemplate::evaluate_with_ext_vars`] (the session tokenizer's claims mapper, which
//! Kratos gives `std.extVar('session')` and `std.extVar('claims')`); `std.trace` output is
//! dropped.
//!
//! Evaluation is bounded so that a template cannot take the process down:
//!
//! - Calls nest at most [`MAX_STACK`] deep: a deeper recursion is [`JsonnetError::Runtime`]
//!   (go-jsonnet's "max stack frames exceeded"); the evaluator keeps its own stack on the
//!   heap.
//! - The parser and analyser of `rsjsonnet-lang` recurse once per nested expression (about
//!   30 KiB of stack per level in an unoptimised build), so a template holds at most
//!   [`MAX_TEMPLATE_TOKENS`] tokens and a context nests at most [`MAX_CONTEXT_DEPTH`]
//!   levels (it is read as Jsonnet code), and both are read on a thread of their own with a
//!   [`THREAD_STACK_BYTES`] stack (address space, touched only as deep as it is used).
//! - A caller waits at most [`EVAL_TIMEOUT`]. An evaluation cannot be interrupted: one past
//!   its time keeps its thread until it ends, and only its answer is dropped.
//!
//! Error messages name the kind of failure and the line and column in the template, never a
//! value of the context nor the text of an `error` expression (it may carry one).
//!
//! [`body`] builds request bodies from templates: JSON, or form values when the request's
//! `Content-Type` is `application/x-www-form-urlencoded`.

pub mod body;

use std::sync::Arc;
use std::time::Duration;

use rsjsonnet_lang::arena::Arena;
use rsjsonnet_lang::interner::{InternedStr, StrInterner};
use rsjsonnet_lang::lexer::{LexError, Lexer};
use rsjsonnet_lang::parser::ParseError;
use rsjsonnet_lang::program::{
    AnalyzeError, Callbacks, EvalError, EvalErrorKind, EvalStackTraceItem, ImportError, LoadError,
    NativeError, Program, Thunk, Value,
};
use rsjsonnet_lang::span::{SpanContextId, SpanId, SpanManager};

/// The deepest call nesting a template may reach (go-jsonnet's default `max_stack`).
pub const MAX_STACK: usize = 500;

/// The most tokens a template may hold (Kratos's default courier body has about 200): each
/// may nest the parser one level deeper.
pub const MAX_TEMPLATE_TOKENS: usize = 4096;

/// The deepest a context may nest (identity traits and metadata nest at most
/// [`json::MAX_DEPTH`](crate::json::MAX_DEPTH)).
pub const MAX_CONTEXT_DEPTH: usize = 128;

/// The stack of the thread a template is read and evaluated on: enough for
/// [`MAX_TEMPLATE_TOKENS`] nested levels in an unoptimised build.
pub const THREAD_STACK_BYTES: usize = 256 << 20;

/// How long a caller waits for an evaluation.
pub const EVAL_TIMEOUT: Duration = Duration::from_secs(5);

/// The most evaluations that run at once in the process. An evaluation that timed out keeps
/// its thread (and its slot) until it ends, so a template that never ends can hold at most
/// this many threads; further evaluations fail at once (a failed send the courier retries, a
/// failed web hook) instead of starting more threads.
pub const MAX_CONCURRENT_EVALUATIONS: usize = 8;

static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many evaluations run in the process now (at most [`MAX_CONCURRENT_EVALUATIONS`]),
/// counting those whose callers gave up waiting.
pub fn running_evaluations() -> usize {
    RUNNING.load(std::sync::atomic::Ordering::Acquire)
}

/// A slot among [`MAX_CONCURRENT_EVALUATIONS`], given back when dropped (by the evaluating
/// thread, when it ends).
struct Slot;

impl Slot {
    fn take() -> Result<Self, JsonnetError> {
        use std::sync::atomic::Ordering;
        let taken = RUNNING.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < MAX_CONCURRENT_EVALUATIONS).then_some(n + 1)
        });
        match taken {
            Ok(_) => Ok(Slot),
            Err(_) => Err(JsonnetError::Failed(format!(
                "{MAX_CONCURRENT_EVALUATIONS} template evaluations are running already"
            ))),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Where in a template something went wrong (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line.
    pub line: usize,
    /// Column, in characters.
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a template could not be loaded or evaluated. No variant holds a value of the context
/// or the text of the template's `error` expressions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonnetError {
    /// The template does not lex, parse or analyse (an unknown variable, …).
    #[error("the Jsonnet template does not load{}: {reason}", at(.position))]
    Syntax {
        /// What is wrong.
        reason: String,
        /// Where.
        position: Option<Position>,
    },
    /// Evaluating the template failed (an `error`, a missing field, too deep a recursion, …).
    #[error("the Jsonnet template failed{}: {reason}", at(.position))]
    Runtime {
        /// What went wrong.
        reason: String,
        /// Where, when it is in the template.
        position: Option<Position>,
    },
    /// The template raised `error "cancel"` (or an error whose text starts with `cancel`),
    /// Kratos's way for a web hook's body to call the request off.
    #[error("the Jsonnet template cancelled the request")]
    Cancelled,
    /// The evaluation took longer than [`EVAL_TIMEOUT`].
    #[error("the Jsonnet template took longer than {0:?}")]
    TimedOut(Duration),
    /// The evaluation could not run (no thread could be started, or it ended abnormally).
    #[error("the Jsonnet template could not be evaluated: {0}")]
    Failed(String),
}

fn at(position: &Option<Position>) -> String {
    position.map(|p| format!(" at {p}")).unwrap_or_default()
}

/// A Jsonnet template, checked when made and cheap to clone. `Debug` shows its label only.
#[derive(Clone)]
pub struct JsonnetTemplate {
    label: Arc<str>,
    source: Arc<str>,
}

impl std::fmt::Debug for JsonnetTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonnetTemplate")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl JsonnetTemplate {
    /// Loads a template's source and checks that it lexes, parses and analyses. `label`
    /// names it in `std.thisFile` (and should not hold a secret).
    ///
    /// # Errors
    ///
    /// [`JsonnetError::Syntax`] when it does not load; [`JsonnetError::Failed`] when no
    /// thread could be started for the check.
    pub fn compile(
        label: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<Self, JsonnetError> {
        let template = Self {
            label: label.into().into(),
            source: source.into().into(),
        };
        let (label, source) = (template.label.clone(), template.source.clone());
        let handle = spawn(move || run(&label, &source, Input::Check))?;
        handle
            .join()
            .map_err(|_| JsonnetError::Failed("the check ended abnormally".into()))??;
        Ok(template)
    }

    /// The label it was made with.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Evaluates the template with `ctx` as its top-level argument `ctx` and answers its
    /// value as JSON text. Runs on a thread of its own, at most
    /// [`MAX_CONCURRENT_EVALUATIONS`] at once in the process; waits at most [`EVAL_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`JsonnetError::Runtime`] when the evaluation fails (or the value holds a function),
    /// [`JsonnetError::Cancelled`] for `error "cancel"`, [`JsonnetError::TimedOut`] and
    /// [`JsonnetError::Failed`].
    pub async fn evaluate(&self, ctx: &serde_json::Value) -> Result<String, JsonnetError> {
        let ctx = encode_context(ctx)?;
        self.evaluate_on_thread(Owned::Tla(ctx)).await
    }

    /// Evaluates the template as it is (no top-level argument), with each of `vars` as the
    /// external variable of its name (`std.extVar("session")`), as Kratos's session
    /// tokenizer does with its claims mapper, and answers its value as JSON text. Same
    /// threads, bounds and waiting as [`evaluate`](Self::evaluate).
    ///
    /// # Errors
    ///
    /// As [`evaluate`](Self::evaluate); a template that is a function fails (its output
    /// holds a function).
    pub async fn evaluate_with_ext_vars(
        &self,
        vars: &[(&str, &serde_json::Value)],
    ) -> Result<String, JsonnetError> {
        let vars = vars
            .iter()
            .map(|(name, value)| Ok(((*name).to_owned(), encode_context(value)?)))
            .collect::<Result<Vec<_>, JsonnetError>>()?;
        self.evaluate_on_thread(Owned::Ext(vars)).await
    }

    async fn evaluate_on_thread(&self, input: Owned) -> Result<String, JsonnetError> {
        let (label, source) = (self.label.clone(), self.source.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let slot = Slot::take()?;
        spawn(move || {
            let _slot = slot;
            let _ = tx.send(run(&label, &source, input.as_input()));
        })?;
        match tokio::time::timeout(EVAL_TIMEOUT, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(JsonnetError::Failed(
                "the evaluation ended abnormally".into(),
            )),
            Err(_) => Err(JsonnetError::TimedOut(EVAL_TIMEOUT)),
        }
    }
}

/// A context as Jsonnet code (JSON), refused when it nests too deep.
fn encode_context(ctx: &serde_json::Value) -> Result<String, JsonnetError> {
    if crate::json::exceeds_depth(ctx, MAX_CONTEXT_DEPTH) {
        return Err(JsonnetError::Failed(format!(
            "the context nests deeper than {MAX_CONTEXT_DEPTH} levels"
        )));
    }
    serde_json::to_string(ctx)
        .map_err(|_| JsonnetError::Failed("the context could not be encoded".into()))
}

/// What a template is evaluated with, owned by the evaluating thread.
enum Owned {
    Tla(String),
    Ext(Vec<(String, String)>),
}

impl Owned {
    fn as_input(&self) -> Input<'_> {
        match self {
            Owned::Tla(ctx) => Input::Tla(ctx),
            Owned::Ext(vars) => Input::Ext(vars),
        }
    }
}

/// What [`run`] does: only load the template, or evaluate it with a context as the
/// top-level argument `ctx`, or with external variables (each a name and its JSON).
#[derive(Clone, Copy)]
enum Input<'a> {
    Check,
    Tla(&'a str),
    Ext(&'a [(String, String)]),
}

fn spawn<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>, JsonnetError> {
    std::thread::Builder::new()
        .name("kratos-jsonnet".into())
        .stack_size(THREAD_STACK_BYTES)
        .spawn(f)
        .map_err(|e| JsonnetError::Failed(format!("no thread could be started: {e}")))
}

/// No imports, no native functions, no trace output.
struct Sandbox;

impl<'p> Callbacks<'p> for Sandbox {
    fn import(
        &mut self,
        _: &mut Program<'p>,
        _: SpanId,
        _: &str,
    ) -> Result<Thunk<'p>, ImportError> {
        Err(ImportError)
    }

    fn import_str(
        &mut self,
        _: &mut Program<'p>,
        _: SpanId,
        _: &str,
    ) -> Result<String, ImportError> {
        Err(ImportError)
    }

    fn import_bin(
        &mut self,
        _: &mut Program<'p>,
        _: SpanId,
        _: &str,
    ) -> Result<Vec<u8>, ImportError> {
        Err(ImportError)
    }

    fn trace(&mut self, _: &mut Program<'p>, _: &str, _: &[EvalStackTraceItem]) {}

    fn native_call(
        &mut self,
        _: &mut Program<'p>,
        _: InternedStr<'p>,
        _: &[Value<'p>],
    ) -> Result<Value<'p>, NativeError> {
        Err(NativeError)
    }
}

/// Refuses a template with more than [`MAX_TEMPLATE_TOKENS`] tokens (the lexer does not
/// recurse). A template that does not lex is left for the loader to report.
fn check_size(source: &str) -> Result<(), JsonnetError> {
    let arena = Arena::new();
    let ast_arena = Arena::new();
    let interner = StrInterner::new();
    let mut spans = SpanManager::new();
    let (span_ctx, _) = spans.insert_source_context(source.len());
    let lexer = Lexer::new(
        &arena,
        &ast_arena,
        &interner,
        &mut spans,
        span_ctx,
        source.as_bytes(),
    );
    match lexer.lex_to_eof(false) {
        Ok(tokens) if tokens.len() > MAX_TEMPLATE_TOKENS => Err(JsonnetError::Syntax {
            reason: format!("the template holds more than {MAX_TEMPLATE_TOKENS} tokens"),
            position: None,
        }),
        _ => Ok(()),
    }
}

/// Loads the template and, given a context or external variables, evaluates it (on the
/// calling thread, which needs a [`THREAD_STACK_BYTES`] stack).
fn run(label: &str, source: &str, input: Input<'_>) -> Result<String, JsonnetError> {
    check_size(source)?;
    let arena = Arena::new();
    let mut program = Program::new(&arena);
    program.set_max_stack(MAX_STACK);
    let (span_ctx, _) = program
        .span_manager_mut()
        .insert_source_context(source.len());
    let template = program
        .load_source(span_ctx, source.as_bytes(), true, label)
        .map_err(|e| JsonnetError::Syntax {
            reason: load_reason(&e),
            position: load_span(&e).and_then(|s| position(&program, source, span_ctx, s)),
        })?;
    let tla = match input {
        Input::Check => return Ok(String::new()),
        Input::Tla(ctx) => Some(ctx),
        Input::Ext(vars) => {
            for (name, json) in vars {
                let (span, _) = program.span_manager_mut().insert_source_context(json.len());
                let thunk = program
                    .load_source(span, json.as_bytes(), false, name)
                    .map_err(|_| {
                        JsonnetError::Failed("an external variable is not valid Jsonnet".into())
                    })?;
                let name = program.intern_str(name);
                program.add_ext_var(name, &thunk);
            }
            None
        }
    };
    let tla_mode = tla.is_some();
    let fail =
        |program: &Program<'_>, e: EvalError| runtime(program, source, span_ctx, e, tla_mode);
    let mut sandbox = Sandbox;
    let value = program
        .eval_value(&template, &mut sandbox)
        .map_err(|e| fail(&program, e))?;
    let value = if let Some(ctx) = tla
        && value.is_function()
    {
        let (ctx_span, _) = program.span_manager_mut().insert_source_context(ctx.len());
        let ctx = program
            .load_source(ctx_span, ctx.as_bytes(), false, "ctx")
            .map_err(|_| JsonnetError::Failed("the context is not valid Jsonnet".into()))?;
        let name = program.intern_str("ctx");
        program
            .eval_call(&template, &[], &[(name, ctx)], &mut sandbox)
            .map_err(|e| fail(&program, e))?
    } else {
        value
    };
    program
        .manifest_json(&value, false)
        .map_err(|e| fail(&program, e))
}

/// The line and column of a span when it lies in the template.
fn position(
    program: &Program<'_>,
    source: &str,
    template: SpanContextId,
    span: SpanId,
) -> Option<Position> {
    let (context, start, _) = program.span_manager().get_span(span);
    if context != template {
        return None;
    }
    let before = source.get(..start)?;
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some(Position { line, column })
}

fn runtime(
    program: &Program<'_>,
    source: &str,
    template: SpanContextId,
    e: EvalError,
    tla_mode: bool,
) -> JsonnetError {
    if let EvalErrorKind::ExplicitError { message, .. } = &e.kind
        && message.starts_with("cancel")
    {
        return JsonnetError::Cancelled;
    }
    let own = match &e.kind {
        EvalErrorKind::ExplicitError { span, .. }
        | EvalErrorKind::AssertFailed { span, .. }
        | EvalErrorKind::UnknownObjectField { span, .. }
        | EvalErrorKind::FieldOfNonObject { span }
        | EvalErrorKind::InvalidIndexedType { span, .. }
        | EvalErrorKind::NumericIndexOutOfRange { span, .. }
        | EvalErrorKind::ObjectIndexIsNotString { span, .. }
        | EvalErrorKind::CondIsNotBool { span, .. }
        | EvalErrorKind::InvalidUnaryOpType { span, .. }
        | EvalErrorKind::ImportFailed { span, .. } => Some(*span),
        EvalErrorKind::CalleeIsNotFunction { span, .. }
        | EvalErrorKind::InvalidBinaryOpTypes { span, .. }
        | EvalErrorKind::TooManyCallArgs { span, .. }
        | EvalErrorKind::UnknownCallParam { span, .. }
        | EvalErrorKind::CallParamNotBound { span, .. }
        | EvalErrorKind::DivByZero { span } => *span,
        _ => None,
    };
    let traced = e.stack_trace.iter().filter_map(|item| match item {
        EvalStackTraceItem::Expr { span }
        | EvalStackTraceItem::Variable { span, .. }
        | EvalStackTraceItem::Import { span } => Some(*span),
        EvalStackTraceItem::Call { span, .. }
        | EvalStackTraceItem::ArrayItem { span, .. }
        | EvalStackTraceItem::ObjectField { span, .. } => *span,
        _ => None,
    });
    let position = own
        .into_iter()
        .chain(traced)
        .find_map(|s| position(program, source, template, s));
    JsonnetError::Runtime {
        reason: eval_reason(&e.kind, tla_mode),
        position,
    }
}

/// A failure's kind in words, without the values involved.
fn eval_reason(kind: &EvalErrorKind, tla_mode: bool) -> String {
    match kind {
        EvalErrorKind::StackOverflow => {
            format!("calls nest deeper than {MAX_STACK} (infinite recursion?)")
        }
        EvalErrorKind::InfiniteRecursion => "a value depends on itself".into(),
        // The field's name is left out: a template may compute it from the context, so it
        // could be a code or a token.
        EvalErrorKind::UnknownObjectField { .. } => {
            "the object has no such field (see the position)".to_owned()
        }
        EvalErrorKind::ExplicitError { .. } => "the template raised an error".into(),
        EvalErrorKind::AssertFailed { .. } | EvalErrorKind::AssertEqualFailed { .. } => {
            "an assertion failed".into()
        }
        EvalErrorKind::ImportFailed { .. } => "imports are not allowed".into(),
        EvalErrorKind::UnknownExtVar { name } if tla_mode => format!(
            "there is no external variable `{name}` (the context is the top-level argument `ctx`)"
        ),
        EvalErrorKind::UnknownExtVar { name } => format!("there is no external variable `{name}`"),
        EvalErrorKind::UnknownCallParam { param_name, .. } => format!(
            "the function has no parameter `{param_name}` (the template's function must take `ctx`)"
        ),
        EvalErrorKind::CallParamNotBound { param_name, .. } => {
            format!("the parameter `{param_name}` is not given")
        }
        EvalErrorKind::ManifestFunction => "the output holds a function".into(),
        EvalErrorKind::NativeCallFailed => "native functions are not available".into(),
        other => variant_name(other),
    }
}

/// The name of an enum variant from its `Debug` output (`UnknownVariable { … }` →
/// `UnknownVariable`), which leaves out the values it carries.
fn variant_name(value: &impl std::fmt::Debug) -> String {
    let debug = format!("{value:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn load_reason(e: &LoadError) -> String {
    match e {
        LoadError::Lex(e) => format!("invalid token ({})", variant_name(e)),
        LoadError::Parse(ParseError::Expected { .. }) => "unexpected token".into(),
        LoadError::Analyze(AnalyzeError::UnknownVariable { name, .. }) => {
            format!("unknown variable `{name}`")
        }
        LoadError::Analyze(e) => variant_name(e),
    }
}

fn load_span(e: &LoadError) -> Option<SpanId> {
    Some(match e {
        LoadError::Lex(e) => match e {
            LexError::InvalidChar { span, .. }
            | LexError::InvalidUtf8 { span, .. }
            | LexError::UnfinishedMultilineComment { span }
            | LexError::LeadingZeroInNumber { span }
            | LexError::MissingFracDigits { span }
            | LexError::MissingExpDigits { span }
            | LexError::MissingDigitAfterUnderscore { span }
            | LexError::ExpOverflow { span }
            | LexError::InvalidEscapeInString { span, .. }
            | LexError::IncompleteUnicodeEscape { span }
            | LexError::InvalidUtf16EscapeSequence { span, .. }
            | LexError::UnfinishedString { span }
            | LexError::MissingLineBreakAfterTextBlockStart { span }
            | LexError::MissingWhitespaceTextBlockStart { span }
            | LexError::InvalidTextBlockTermination { span } => *span,
        },
        LoadError::Parse(ParseError::Expected { span, .. }) => *span,
        LoadError::Analyze(e) => match e {
            AnalyzeError::UnknownVariable { span, .. }
            | AnalyzeError::PositionalArgAfterNamed { arg_span: span }
            | AnalyzeError::TextBlockAsImportPath { span }
            | AnalyzeError::ComputedImportPath { span }
            | AnalyzeError::SelfOutsideObject { self_span: span }
            | AnalyzeError::SuperOutsideObject { super_span: span }
            | AnalyzeError::DollarOutsideObject { dollar_span: span } => *span,
            AnalyzeError::RepeatedLocalName { repeated_span, .. }
            | AnalyzeError::RepeatedFieldName { repeated_span, .. }
            | AnalyzeError::RepeatedParamName { repeated_span, .. } => *repeated_span,
        },
    })
}

#[cfg(test)]
mod tests;
