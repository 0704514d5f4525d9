/** Test certificates made with the openssl command (callers skip with missingPeer("openssl") when it is absent). */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";

/** A CA, a server certificate for 127.0.0.1, a client certificate from the CA, and a self-signed one. */
export function makeCertificates(
  dir: string,
): Record<"ca" | "serverCert" | "serverKey" | "clientCert" | "clientKey" | "rogueCert" | "rogueKey", string> {
  const at = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=glimpse test CA",
  );
  writeFileSync(at("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    at("server.key"),
    "-out",
    at("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    at("server.csr"),
    "-CA",
    at("ca.pem"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("server.pem"),
    "-days",
    "2",
    "-extfile",
    at("server.ext"),
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    at("client.key"),
    "-out",
    at("client.csr"),
    "-subj",
    "/CN=glimpse member",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    at("client.csr"),
    "-CA",
    at("ca.pem"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("client.pem"),
    "-days",
    "2",
  );
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    at("rogue.key"),
    "-out",
    at("rogue.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=rogue",
  );
  return {
    ca: at("ca.pem"),
    serverCert: at("server.pem"),
    serverKey: at("server.key"),
    clientCert: at("client.pem"),
    clientKey: at("client.key"),
    rogueCert: at("rogue.pem"),
    rogueKey: at("rogue.key"),
  };
}
