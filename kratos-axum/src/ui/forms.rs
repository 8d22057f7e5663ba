//! Which nodes of a flow go into which form.

use kratos_core::flow::ui::{NodeGroup, NodeType, UiContainer};
use serde::Serialize;

/// The self-service flow a page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// Sign-in.
    Login,
    /// Sign-up.
    Registration,
    /// Account settings.
    Settings,
    /// Address verification.
    Verification,
    /// Account recovery.
    Recovery,
}

impl FlowKind {
    /// Every kind.
    pub const ALL: [FlowKind; 5] = [
        FlowKind::Login,
        FlowKind::Registration,
        FlowKind::Settings,
        FlowKind::Verification,
        FlowKind::Recovery,
    ];

    /// Kratos's name of the flow (`login`, `registration`, …), as in its URLs.
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowKind::Login => "login",
            FlowKind::Registration => "registration",
            FlowKind::Settings => "settings",
            FlowKind::Verification => "verification",
            FlowKind::Recovery => "recovery",
        }
    }

    /// The default page title.
    pub const fn title(self) -> &'static str {
        match self {
            FlowKind::Login => "Sign in",
            FlowKind::Registration => "Create an account",
            FlowKind::Settings => "Account settings",
            FlowKind::Verification => "Verify your address",
            FlowKind::Recovery => "Recover your account",
        }
    }
}

/// One `<form>` of a flow page: the indexes of its nodes in `ui.nodes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FormSpec {
    /// The method group the form submits (several, space-separated, for a combined form).
    pub group: String,
    /// A heading, for the forms of settings and of a second factor.
    pub title: Option<&'static str>,
    /// The form's nodes: the shared `default` ones, then the first method's.
    pub nodes: Vec<usize>,
    /// The further methods' nodes of a combined form, after an "or".
    pub secondary: Vec<usize>,
}

/// A heading for a method's own form.
fn title_of(group: &NodeGroup) -> Option<&'static str> {
    Some(match group {
        NodeGroup::Profile => "Profile",
        NodeGroup::Password => "Password",
        NodeGroup::Totp => "Authenticator app",
        NodeGroup::LookupSecret => "Backup codes",
        NodeGroup::Webauthn => "Security keys",
        NodeGroup::Passkey => "Passkeys",
        NodeGroup::Oidc => "Linked accounts",
        NodeGroup::Code => "One-time code",
        _ => return None,
    })
}

/// The forms of a flow page: one per method group (in the order the groups first appear),
/// each with the `default` group's nodes (the CSRF token, an identifier) before its own.
/// A sign-in or sign-up at the first factor (`second_factor` false) offering several methods
/// is one form: the first method's nodes, then the others' after an "or", as people expect
/// of a sign-in page; social sign-in's provider buttons (group `oidc`) come last in it, and a
/// sign-up asking for missing traits after a provider (its `Continue`) is a form of its own.
/// Settings show the `link` and `unlink` buttons of social sign-in in their own form (titled
/// "Linked accounts"). A second-factor step (`second_factor`: a login flow whose
/// `requested_aal` is `aal2`; also assumed when the flow offers only TOTP, backup codes and
/// security keys) shows one titled form per factor, so a code sent by email or text message
/// and an authenticator app's code are never one form. Script nodes are in no form (the page
/// loads them once).
pub fn forms_of(kind: FlowKind, ui: &UiContainer, second_factor: bool) -> Vec<FormSpec> {
    let mut groups: Vec<&NodeGroup> = Vec::new();
    for n in &ui.nodes {
        if n.node_type != NodeType::Script
            && n.group != NodeGroup::Default
            && !groups.contains(&&n.group)
        {
            groups.push(&n.group);
        }
    }
    let default: Vec<usize> = ui
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.group == NodeGroup::Default && n.node_type != NodeType::Script)
        .map(|(i, _)| i)
        .collect();
    let of = |g: &NodeGroup| -> Vec<usize> {
        ui.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| &n.group == g && n.node_type != NodeType::Script)
            .map(|(i, _)| i)
            .collect()
    };
    if groups.is_empty() {
        // Nothing but shared nodes (a finished flow's link, say): one form with them.
        return if default.is_empty() {
            Vec::new()
        } else {
            vec![FormSpec {
                group: "default".into(),
                title: None,
                nodes: default,
                secondary: Vec::new(),
            }]
        };
    }
    let second_factor = second_factor
        || groups.iter().all(|g| {
            matches!(
                g,
                NodeGroup::Totp | NodeGroup::LookupSecret | NodeGroup::Webauthn
            )
        });
    let combined = matches!(kind, FlowKind::Login | FlowKind::Registration)
        && !second_factor
        && groups.len() > 1;
    if combined {
        // Social sign-in is buttons only (`provider`): never the lead method of the form, so
        // a password's or a code's fields and button come first and the providers' buttons
        // after the "or" (they skip the browser's checks of those fields; Kratos leaves out
        // the fields left empty).
        if let Some(at) = groups.iter().position(|g| **g == NodeGroup::Oidc) {
            let oidc = groups.remove(at);
            groups.push(oidc);
        }
        let mut nodes = default;
        nodes.extend(of(groups[0]));
        return vec![FormSpec {
            group: groups
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            title: None,
            nodes,
            secondary: groups[1..].iter().flat_map(|g| of(g)).collect(),
        }];
    }
    let titled = kind == FlowKind::Settings || second_factor;
    groups
        .into_iter()
        .map(|g| {
            let mut nodes = default.clone();
            nodes.extend(of(g));
            FormSpec {
                group: g.as_str().to_owned(),
                title: if titled { title_of(g) } else { None },
                nodes,
                secondary: Vec::new(),
            }
        })
        .collect()
}
