// For graphql.sh: do Hive's, PostGraphile's and the bare handler's answers to
// the mentors page carry the same data?
//   node graphql_same.mjs N hive.json postgraphile.json bare.json
// Each answer becomes [{id, name, topics, sectors, regions}] in page order,
// id the provider's row number (Hive and bare send a Relay global id, the
// URL-safe base64 of "Provider:<id>"; PostGraphile its rowId, a BigInt
// string), each list sorted by name so that the order within a provider's
// lists does not matter (the page's order does). Exits 1, printing the first
// difference, unless all three are equal and have N mentors.
import { readFileSync } from "node:fs";

const [n, hiveFile, postgraphileFile, bareFile] = process.argv.slice(2);

const sorted = (list) => [...list].sort();

function read(file) {
  const answer = JSON.parse(readFileSync(file, "utf8"));
  if (answer.errors) {
    throw new Error(`${file}: errors: ${JSON.stringify(answer.errors)}`);
  }
  return answer.data;
}

function fromRelay(data) {
  return data.mentors.edges.map(({ node }) => {
    const decoded = Buffer.from(node.id, "base64url").toString("utf8");
    const [type, number] = decoded.split(":");
    if (type !== "Provider") throw new Error(`not a provider id: ${node.id}`);
    return {
      id: Number(number),
      name: node.name,
      topics: sorted(node.topics.map((t) => t.name)),
      sectors: sorted(node.sectors.map((s) => s.name)),
      regions: sorted(node.regions),
    };
  });
}

function fromPostGraphile(data) {
  return data.allProviders.nodes.map((p) => ({
    id: Number(p.rowId),
    name: p.userByUserId.name,
    topics: sorted(p.providerTopicsByProviderId.nodes.map((t) => t.topicByTopicId.name)),
    sectors: sorted(p.providerSectorsByProviderId.nodes.map((s) => s.sectorBySectorId.name)),
    regions: sorted(p.providerRegionsByProviderId.nodes.map((r) => r.region)),
  }));
}

const answers = {
  hive: fromRelay(read(hiveFile)),
  postgraphile: fromPostGraphile(read(postgraphileFile)),
  bare: fromRelay(read(bareFile)),
};

let failed = false;
for (const [server, mentors] of Object.entries(answers)) {
  if (mentors.length !== Number(n)) {
    console.error(`${server}: ${mentors.length} mentors, expected ${n}`);
    failed = true;
  }
}
const reference = JSON.stringify(answers.hive);
for (const server of ["postgraphile", "bare"]) {
  if (JSON.stringify(answers[server]) === reference) continue;
  failed = true;
  const longer = Math.max(answers.hive.length, answers[server].length);
  let i = 0;
  while (
    i < longer &&
    JSON.stringify(answers.hive[i]) === JSON.stringify(answers[server][i])
  ) {
    i++;
  }
  console.error(`${server} differs from hive at mentor ${i}:`);
  console.error(`  hive:    ${JSON.stringify(answers.hive[i])}`);
  console.error(`  ${server}: ${JSON.stringify(answers[server][i])}`);
}
if (failed) process.exit(1);
const lists = answers.hive.reduce(
  (sum, m) => sum + m.topics.length + m.sectors.length + m.regions.length,
  0,
);
console.log(
  `same data: ${n} mentors (ids ${answers.hive[0]?.id}…${answers.hive.at(-1)?.id}), ${lists} topics, sectors and regions`,
);
