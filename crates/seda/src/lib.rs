//! SEDA 2.1/2.2/2.3 manifests: streaming reader, XSD and profile validation with libxml2, and ArchiveTransferReply writer.
