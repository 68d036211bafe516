//! The carnac binary: thin glue that parses arguments and wires the archive together.
fn main() {}
