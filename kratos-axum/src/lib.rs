//! kratos-axum
