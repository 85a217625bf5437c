//! The control socket (`bongoyo status`, `hold`, `resume`, `release`,
//! `reload`):
//! accept a connection, read one request line, answer it, close.
//!
//! Connections sit in [`super::MAX_CONTROL`] fixed slots whose buffers live as
//! long as the daemon, so answering never allocates; each must be done
//! within [`CONTROL_TIMEOUT`]. Requests are parsed in [`super::request`],
//! the status itself is written in [`super::status`]; what changes anything
//! goes to the node, which decides.

use core::fmt::{self, Write as _};
use std::io::{self, Read, Write};

use log::{info, warn};
use mio::net::UnixStream;
use mio::{Interest, Token};

use super::lifecycle::{Reloaded, Words};
use super::request::{self, Request, REQUEST_BYTES};
use super::{Daemon, Quoted, CONN_BASE, CONTROL_TIMEOUT};
use crate::cluster::Control;
use crate::node::MoveAnswer;
use crate::os::control;
use crate::time::Instant;
use crate::vserver::monitor::MoveStart;

/// Bytes of a control answer (a full status of 32 boxes and 64 vservers in
/// JSON fits with room to spare).
const ANSWER_BYTES: usize = 32 * 1024;

/// Where a control connection is: reading its request, or writing the answer.
#[derive(Copy, Clone, PartialEq, Eq)]
enum ConnState {
    Reading,
    Writing,
}

/// One control connection slot; its buffers live as long as the daemon.
pub(super) struct Conn {
    pub(super) stream: Option<UnixStream>,
    pub(super) deadline: Instant,
    state: ConnState,
    /// The client's user id (`SO_PEERCRED`); only root and the daemon's
    /// own user may change anything.
    uid: u32,
    request: [u8; REQUEST_BYTES],
    len: usize,
    answer: Vec<u8>,
    written: usize,
}

impl Conn {
    /// A free slot, its buffers allocated once for the daemon's life.
    pub(super) fn new(now: Instant) -> Conn {
        Conn {
            stream: None,
            deadline: now,
            state: ConnState::Reading,
            uid: u32::MAX,
            request: [0; REQUEST_BYTES],
            len: 0,
            answer: Vec::with_capacity(ANSWER_BYTES),
            written: 0,
        }
    }
}

/// A `fmt::Write` into a vector that never grows past its capacity, so
/// writing an answer never allocates.
struct Fixed<'a>(&'a mut Vec<u8>);

impl fmt::Write for Fixed<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.0.len() + s.len() > self.0.capacity() {
            return Err(fmt::Error);
        }
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Daemon {
    pub(super) fn accept(&mut self, now: Instant) {
        loop {
            let (stream, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("control-accept-error error={e}");
                    return;
                }
            };
            let Some(i) = self.conns.iter().position(|c| c.stream.is_none()) else {
                // Every slot busy: refuse this one rather than stall (policy:
                // refuse). Best effort; the client may retry.
                let mut s = stream;
                let _ = s.write(b"error 69 busy: too many control connections\n");
                continue;
            };
            let mut stream = stream;
            // Unknown: treated as nobody in particular (status only).
            let uid = control::peer_uid(&stream).unwrap_or(u32::MAX);
            let token = Token(CONN_BASE + i);
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
            {
                warn!("control-register-error error={e}");
                continue;
            }
            let c = &mut self.conns[i];
            c.stream = Some(stream);
            c.deadline = now + CONTROL_TIMEOUT;
            c.state = ConnState::Reading;
            c.uid = uid;
            c.len = 0;
            c.answer.clear();
            c.written = 0;
            // Data may already be there: readiness is edge-triggered.
            self.serve(now, i);
        }
    }

    pub(super) fn serve(&mut self, now: Instant, i: usize) {
        if self.conns[i].state == ConnState::Reading {
            match self.read_request(i) {
                Ok(false) => return,
                Ok(true) => {}
                Err(_) => return self.close(i),
            }
            let len = self.conns[i].len;
            let mut line = [0u8; REQUEST_BYTES];
            line[..len].copy_from_slice(&self.conns[i].request[..len]);
            let uid = self.conns[i].uid;
            let mut answer = core::mem::take(&mut self.conns[i].answer);
            answer.clear();
            if self
                .answer(now, &line[..len], uid, &mut Fixed(&mut answer))
                .is_err()
            {
                answer.clear();
                let _ = Fixed(&mut answer).write_str("error 71 answer too large\n");
            }
            let c = &mut self.conns[i];
            c.answer = answer;
            c.state = ConnState::Writing;
            if let Some(s) = c.stream.as_mut() {
                let _ =
                    self.poll
                        .registry()
                        .reregister(s, Token(CONN_BASE + i), Interest::WRITABLE);
            }
        }
        let c = &mut self.conns[i];
        let Some(s) = c.stream.as_mut() else { return };
        while c.written < c.answer.len() {
            match s.write(&c.answer[c.written..]) {
                Ok(0) => break,
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        self.close(i);
    }

    /// Read what the client sent. `Ok(true)`: a whole request is there.
    fn read_request(&mut self, i: usize) -> io::Result<bool> {
        let c = &mut self.conns[i];
        let Some(s) = c.stream.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        loop {
            if c.request[..c.len].contains(&b'\n') {
                c.len = c.request[..c.len]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(c.len);
                return Ok(true);
            }
            if c.len == REQUEST_BYTES {
                // Too long for any request: the parser names what it is.
                return Ok(true);
            }
            match s.read(&mut c.request[c.len..]) {
                // End of stream: what came is the request.
                Ok(0) => return Ok(true),
                Ok(n) => c.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) fn close(&mut self, i: usize) {
        if let Some(mut s) = self.conns[i].stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
    }

    /// Answer one request line from a client with user id `uid`. Errors
    /// start with `error CODE`, CODE being the sysexits code the client
    /// exits with.
    fn answer(
        &mut self,
        now: Instant,
        line: &[u8],
        uid: u32,
        w: &mut impl fmt::Write,
    ) -> fmt::Result {
        let request = request::parse(line);
        let changes = request.map_or(true, |r| r.changes());
        if changes && !control::may_change(uid) {
            let word = request.map_or("other", |r| r.word());
            warn!("control-refused request={word} uid={uid}");
            return w.write_str(
                "error 77 only root (or the daemon's own user) may change anything; others may only ask for status\n",
            );
        }
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                return writeln!(
                    w,
                    "error 64 {e}: status, status-json, hold, resume, release NAME, reload [FILE]"
                )
            }
        };
        match request {
            Request::Status => self.status(now, w),
            Request::StatusJson => self.status_json(now, w),
            Request::Hold => {
                info!("control command=hold");
                self.node.handle_control(now, Control::Hold);
                w.write_str("ok hold: this box is off the list; it serves what it holds until the boss has moved each vserver to another box\n")
            }
            Request::Resume => {
                info!("control command=resume");
                self.node.handle_control(now, Control::Resume);
                w.write_str("ok resume: this box is back on the list\n")
            }
            Request::Reload(path) => {
                info!("control command=reload");
                let outcome = self.reload(now, path);
                self.reload_answer(outcome, w)
            }
            Request::Release(name) => match self.config.vserver_id(name) {
                None => writeln!(
                    w,
                    "error 65 no vserver named {} in {}",
                    Quoted(name),
                    self.config_path
                ),
                Some(vs) => {
                    let answer = self.node.request_move(now, vs);
                    info!(
                        "control command=release vserver={name} answer={}",
                        answer_word(answer)
                    );
                    self.release_answer(name, answer, w)
                }
            },
        }
    }

    /// The control answer to `reload`: `ok …` when applied, else the
    /// sysexits code `bongoyo reload` exits with.
    fn reload_answer(&self, r: Reloaded, w: &mut impl fmt::Write) -> fmt::Result {
        let file = &self.config_path;
        match r {
            Reloaded::Applied { changed } if changed.is_empty() => writeln!(
                w,
                "ok applied {file} revision {} digest {:08x}: nothing this box uses changed",
                Quoted(&self.revision),
                self.config.digest()
            ),
            Reloaded::Applied { changed } => writeln!(
                w,
                "ok applied {file} revision {} digest {:08x}: changed {}",
                Quoted(&self.revision),
                self.config.digest(),
                Words(&changed)
            ),
            Reloaded::ClusterWide { changed } => writeln!(
                w,
                "error 69 not applied: cluster-wide settings differ ({}); they change only by restarting every box with the new file (docs/CONFIG.md, \"Reloading\"); running {file} unchanged",
                Words(&changed)
            ),
            Reloaded::Rejected { errors } => {
                writeln!(w, "error 65 rejected, running configuration unchanged:")?;
                w.write_str(&errors)
            }
        }
    }

    /// The control answer to `release NAME`.
    fn release_answer(&self, name: &str, a: MoveAnswer, w: &mut impl fmt::Write) -> fmt::Result {
        let me = self.name(self.me);
        match a {
            MoveAnswer::Forwarded { boss } => {
                writeln!(w, "ok asked boss {} to move {name}", self.name(boss))
            }
            MoveAnswer::Boss(MoveStart::Started { from }) => writeln!(
                w,
                "ok boss {me} moves {name} off {}: a successor is being chosen while it serves",
                self.name(from)
            ),
            MoveAnswer::Boss(MoveStart::ToOriginal { from }) => writeln!(
                w,
                "ok {} releases {name}: its original host answers again",
                self.name(from)
            ),
            MoveAnswer::Boss(MoveStart::NoSuccessor { from }) => writeln!(
                w,
                "error 69 no other box can take {name}: it stays on {}",
                self.name(from)
            ),
            MoveAnswer::Boss(MoveStart::NotHeld) => {
                writeln!(w, "error 69 {name} is not held by any box: nothing to move")
            }
            MoveAnswer::Boss(MoveStart::Busy) => writeln!(
                w,
                "error 69 {name} is being checked or moved right now: try again in a moment"
            ),
            MoveAnswer::Boss(MoveStart::Blocked { unheard }) => writeln!(
                w,
                "error 69 box {} is not heard and its lease is not proven lapsed: nothing is moved until it is heard again or its lease is proven lapsed",
                self.name(unheard)
            ),
            MoveAnswer::Boss(MoveStart::Unknown) | MoveAnswer::Unknown => {
                writeln!(w, "error 65 no vserver named {} in {}", Quoted(name), self.config_path)
            }
            MoveAnswer::NoBoss => writeln!(
                w,
                "error 69 no boss to ask: {me} follows no acting boss (joining, cut off, or no quorum)"
            ),
        }
    }
}

/// One word for what became of `bongoyo release` here, for the log.
fn answer_word(a: MoveAnswer) -> &'static str {
    match a {
        MoveAnswer::Boss(r) => move_word(r),
        MoveAnswer::Forwarded { .. } => "forwarded",
        MoveAnswer::NoBoss => "no-boss",
        MoveAnswer::Unknown => "unknown-vserver",
    }
}

/// One word for a move request's result, for the log.
pub(super) fn move_word(r: MoveStart) -> &'static str {
    match r {
        MoveStart::Started { .. } => "started",
        MoveStart::ToOriginal { .. } => "released-to-original",
        MoveStart::NotHeld => "not-held",
        MoveStart::Busy => "busy",
        MoveStart::NoSuccessor { .. } => "no-successor",
        MoveStart::Blocked { .. } => "blocked",
        MoveStart::Unknown => "unknown-vserver",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_writer_refuses_to_grow() {
        let mut v = Vec::with_capacity(4);
        let cap = v.capacity();
        let mut f = Fixed(&mut v);
        assert!(f.write_str("ab").is_ok());
        assert!(f.write_str(&"x".repeat(cap)).is_err());
        assert_eq!(v.capacity(), cap);
        assert_eq!(v, b"ab");
    }
}
