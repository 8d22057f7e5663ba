//! An example web app built on kratos-rs.

fn main() {}
