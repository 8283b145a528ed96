// Health check of the `mongo` service (docker/compose.yaml), run by mongosh every few seconds.
// On the first run it initiates the one-member replica set rs0 (change streams and multi-document
// transactions need a replica set); afterwards it only reports whether this node is the writable
// primary, so services that wait for `service_healthy` never see a node that cannot take writes.
// The member is named by its compose service name: clients on the compose network discover
// mongo:27017; clients on the host connect with directConnection=true.
try {
  rs.status();
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
if (!db.hello().isWritablePrimary) quit(1);
