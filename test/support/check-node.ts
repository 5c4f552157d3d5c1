/** Fails the whole run at once on a Node major other than Lambda's (see scripts/check-node.mjs). */
export default function setup(): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 22) {
    throw new Error(
      `vendor-ingest tests need Node 22 (Lambda nodejs22.x); this is ${process.versions.node}. Run them with \`npm test\`.`,
    );
  }
}
