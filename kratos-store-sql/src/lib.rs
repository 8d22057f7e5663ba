//! kratos-store-sql
