//! The web application for archivists, producers, the control authority and the operator
//! (issue 19, decision 13): pages rendered by the binary, in French, over the same use
//! cases, decisions and journal as the API. Built in steps; so far its French.

pub mod fr;
