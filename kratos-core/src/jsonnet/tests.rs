use serde_json::{Value, json};

use super::*;

fn eval(source: &str, ctx: Value) -> Result<Value, JsonnetError> {
    let template = JsonnetTemplate::compile("test.jsonnet", source)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out = rt.block_on(template.evaluate(&ctx))?;
    Ok(serde_json::from_str(&out).expect("the output is JSON"))
}

#[test]
fn a_function_template_gets_the_context_as_ctx() {
    // Kratos's request/stub/test_body.jsonnet
    let out = eval(
        "function(ctx) {\n  from: ctx.from,\n  to: ctx.to,\n  body: ctx.body,\n}",
        json!({"to": "+15056445993", "from": "+12288534869", "body": "test-sms-body", "x": 1}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"body": "test-sms-body", "from": "+12288534869", "to": "+15056445993"})
    );
}

#[test]
fn a_template_that_is_not_a_function_ignores_the_context() {
    assert_eq!(
        eval("{a: 1 + 1, b: std.length('abc')}", json!({"x": 1})).unwrap(),
        json!({"a": 2, "b": 3})
    );
    // Any JSON value is an output.
    assert_eq!(
        eval("[1, 'two', null]", json!({})).unwrap(),
        json!([1, "two", null])
    );
}

#[test]
fn context_values_keep_their_json_types_and_text() {
    let ctx = json!({
        "s": "quote \" backslash \\ newline \n unicode é 😀 control \u{1}",
        "n": 12.5, "i": -3, "t": true, "z": null, "a": [1, {"k": "v"}],
        "nested": {"deeper": {"deepest": "yes"}}
    });
    assert_eq!(eval("function(ctx) ctx", ctx.clone()).unwrap(), ctx);
    assert_eq!(
        eval(
            "function(ctx) {has: 'template_data' in ctx, d: ctx.nested.deeper.deepest}",
            ctx
        )
        .unwrap(),
        json!({"has": false, "d": "yes"})
    );
}

#[test]
fn a_template_that_does_not_load_is_an_error_with_its_position() {
    let err = JsonnetTemplate::compile("t", "{\n  a: 1,\n  b: nope,\n}").unwrap_err();
    assert_eq!(
        err,
        JsonnetError::Syntax {
            reason: "unknown variable `nope`".into(),
            position: Some(Position { line: 3, column: 6 }),
        }
    );
    assert!(err.to_string().contains("at 3:6"), "{err}");
    let err = JsonnetTemplate::compile("t", "function(ctx) {a: }").unwrap_err();
    assert!(matches!(err, JsonnetError::Syntax { .. }), "{err:?}");
    let err = JsonnetTemplate::compile("t", "'unterminated").unwrap_err();
    assert!(matches!(err, JsonnetError::Syntax { .. }), "{err:?}");
}

#[test]
fn runtime_errors_name_the_failure_without_values() {
    let err = eval("function(ctx) {a: ctx.missing}", json!({"code": "123456"})).unwrap_err();
    let JsonnetError::Runtime { reason, position } = &err else {
        panic!("{err:?}");
    };
    assert!(reason.contains("no such field"), "{reason}");
    assert_eq!(position.map(|p| p.line), Some(1));
    // A field named by the context is not named in the error either.
    let err = eval(
        "function(ctx) {a: ctx[ctx.code]}",
        json!({"code": "123456"}),
    )
    .unwrap_err();
    assert!(!err.to_string().contains("123456"), "{err}");
    // An error's text may carry a value of the context: it is not repeated.
    let err = eval(
        "function(ctx) error 'the code is ' + ctx.code",
        json!({"code": "123456"}),
    )
    .unwrap_err();
    assert!(!err.to_string().contains("123456"), "{err}");
    assert!(err.to_string().contains("raised an error"), "{err}");
    // Outputs that are not JSON values.
    let err = eval("function(ctx) {f: function(x) x}", json!({})).unwrap_err();
    assert!(err.to_string().contains("function"), "{err}");
}

#[test]
fn cancel_is_told_apart() {
    // Kratos's request/stub/cancel_body.jsonnet, and any error text starting with `cancel`.
    for source in [
        "error \"cancel\"",
        "function(ctx) if ctx.skip then error 'cancel: not this one' else {}",
    ] {
        assert_eq!(
            eval(source, json!({"skip": true})).unwrap_err(),
            JsonnetError::Cancelled
        );
    }
    assert!(matches!(
        eval("error 'cancelled? no: canceled'", json!({})),
        Err(JsonnetError::Cancelled)
    ));
    assert!(matches!(
        eval("error 'do not cancel'", json!({})),
        Err(JsonnetError::Runtime { .. })
    ));
}

#[test]
fn deep_recursion_is_an_error_not_a_stack_overflow() {
    for source in [
        // Unbounded recursion.
        "local f(n) = f(n + 1) + 1; f(0)",
        // Deep but finite recursion.
        "local f(n) = if n == 0 then 0 else 1 + f(n - 1); function(ctx) f(ctx.n)",
        // Mutually recursive object methods.
        "local o = {f(n): self.g(n) + 1, g(n): self.f(n) + 1}; o.f(0)",
    ] {
        let err = eval(source, json!({"n": 100000})).unwrap_err();
        assert!(
            matches!(&err, JsonnetError::Runtime { reason, .. } if reason.contains("deeper than 500")),
            "{source}: {err:?}"
        );
    }
    // Within the limit it works.
    assert_eq!(
        eval(
            "local f(n) = if n == 0 then 0 else 1 + f(n - 1); function(ctx) f(ctx.n)",
            json!({"n": 200})
        )
        .unwrap(),
        json!(200)
    );
}

#[test]
fn deeply_nested_templates_and_contexts_do_not_overflow_the_stack() {
    // Each nesting the parser and analyser recurse on, as deep as the token limit lets a
    // template nest (two tokens a level), loads and evaluates on the evaluation thread: to
    // a value, or an error past the call depth.
    let depth = MAX_TEMPLATE_TOKENS / 2 - 4;
    for (open, close) in [
        ("{a: ", "}"),
        ("f(", ")"),
        ("a[", "]"),
        ("[", "]"),
        ("(", ")"),
        ("local x = 1; ", ""),
        ("if true then ", ""),
        ("function(x) ", ""),
        ("-", ""),
    ] {
        let source = format!(
            "local f(x) = x, a = [0]; {}0{}",
            open.repeat(depth),
            close.repeat(depth)
        );
        let out = JsonnetTemplate::compile("deep", source).map(|t| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(t.evaluate(&json!({})))
        });
        assert!(
            matches!(
                out,
                Ok(Ok(_) | Err(JsonnetError::Runtime { .. })) | Err(JsonnetError::Syntax { .. })
            ),
            "{open}: {out:?}"
        );
    }
    // Values built deep at run time (no call nesting) are counted, dropped and collected
    // without recursion.
    for source in [
        "std.length(std.foldl(function(acc, x) [acc], std.range(1, 200000), []))",
        "std.length(std.foldl(function(acc, x) {a: acc}, std.range(1, 200000), {}))",
        "std.foldl(function(acc, x) [acc], std.range(1, 200000), [])",
    ] {
        let out = eval(source, json!({}));
        assert!(
            matches!(out, Ok(_) | Err(JsonnetError::Runtime { .. })),
            "{source}: {out:?}"
        );
    }
    // Past the token limit a template is refused before it is parsed.
    let source = format!("{}1{}", "{a: ".repeat(100_000), "}".repeat(100_000));
    let err = JsonnetTemplate::compile("deep", source).unwrap_err();
    assert!(err.to_string().contains("tokens"), "{err}");
    // A context nests at most MAX_CONTEXT_DEPTH levels; within it, objects and arrays pass.
    let nest = |levels: usize| {
        let mut ctx = json!(1);
        for i in 0..levels {
            ctx = if i % 2 == 0 {
                json!([ctx])
            } else {
                json!({"k": ctx})
            };
        }
        ctx
    };
    assert!(eval("function(ctx) std.length(ctx)", nest(MAX_CONTEXT_DEPTH - 2)).is_ok());
    let err = eval("function(ctx) 1", nest(MAX_CONTEXT_DEPTH + 1)).unwrap_err();
    assert!(err.to_string().contains("nests deeper"), "{err}");
}

#[test]
fn imports_and_external_variables_are_not_available() {
    let err = eval("import 'x.libsonnet'", json!({})).unwrap_err();
    assert!(err.to_string().contains("imports"), "{err}");
    let err = eval("importstr '/etc/passwd'", json!({})).unwrap_err();
    assert!(err.to_string().contains("imports"), "{err}");
    let err = eval("std.extVar('ctx')", json!({})).unwrap_err();
    assert!(err.to_string().contains("top-level argument"), "{err}");
    // A function that does not take `ctx`.
    let err = eval("function(context) context", json!({})).unwrap_err();
    assert!(err.to_string().contains("ctx"), "{err}");
    // std.trace prints nothing and returns its value.
    assert_eq!(eval("std.trace('x', 1)", json!({})).unwrap(), json!(1));
}

#[test]
fn debug_shows_the_label_only() {
    let t = JsonnetTemplate::compile("base64://", "{key: 'sk_live_secret'}").unwrap();
    let debug = format!("{t:?}");
    assert!(
        !debug.contains("sk_live_secret") && debug.contains("base64://"),
        "{debug}"
    );
}

#[test]
fn external_variables_reach_std_ext_var_as_a_claims_mapper_reads_them() {
    let template = JsonnetTemplate::compile(
        "mapper.jsonnet",
        "local claims = std.extVar('claims');\n\
         { identity: { traits: { email: claims.email, [if 'name' in claims then 'name']: claims.name } } }",
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let claims = json!({"email": "a@example.org", "sub": "1"});
    let out = rt
        .block_on(template.evaluate_ext_vars(&[("claims", &claims)]))
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        out,
        json!({"identity": {"traits": {"email": "a@example.org"}}})
    );
    // A variable the caller does not give is an evaluation error, and one given twice is
    // refused before it runs.
    let missing = rt.block_on(template.evaluate_ext_vars(&[]));
    assert!(
        matches!(missing, Err(JsonnetError::Runtime { .. })),
        "{missing:?}"
    );
    let twice =
        rt.block_on(template.evaluate_ext_vars(&[("claims", &claims), ("claims", &claims)]));
    assert!(matches!(twice, Err(JsonnetError::Failed(_))), "{twice:?}");
}
