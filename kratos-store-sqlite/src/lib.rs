//! kratos-store-sqlite
