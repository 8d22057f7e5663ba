//! kratos-store-postgres
