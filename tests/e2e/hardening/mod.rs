//! Hive on the open internet: every request bounded in CPU, memory, time and
//! the emails it can cause, signed in or not. One module per kind of abuse;
//! each limit is shown both ways (just under works, just over is refused with
//! its code) and the server still answers a normal request afterwards.

mod cost;
mod email_floods;
mod fragments;
mod pages;
mod protocol;
mod slow_clients;
mod text_inputs;
