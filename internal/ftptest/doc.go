// Package ftptest groups the FTP servers the bridge is tested against, as
// net/http/httptest groups HTTP ones. It holds no code of its own; the
// servers are its sub-packages:
//
//   - embedftp: an FTP server in the process (ftpserverlib), also what
//     -demo serves;
//   - testftp: embedftp over a tree of awkward names, for tests;
//   - fakeftp: a scripted server that misbehaves on purpose;
//   - realftp: Debian's vsftpd, pure-ftpd and proftpd started on loopback.
package ftptest
