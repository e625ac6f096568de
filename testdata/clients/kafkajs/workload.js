// kafkajs workload for testdata/captures/kafkajs.pcap: a gzip producer
// writing two topics in one request (sendBatch), and a consumer group that
// a second member joins (a rebalance), committing as it goes.
// Usage: node workload.js BOOTSTRAP
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const brokers = (process.argv[2] || '127.0.0.1:9092').split(',')
const kafka = new Kafka({ clientId: 'kafkajs-demo', brokers, logLevel: logLevel.WARN })
const topics = ['js-orders', 'js-events']
const perTopic = 100

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function produce (from, n) {
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  for (let i = from; i < from + n; i += 20) {
    await producer.sendBatch({
      compression: CompressionTypes.GZIP,
      acks: -1,
      topicMessages: topics.map((topic) => ({
        topic,
        messages: Array.from({ length: 20 }, (_, j) => ({
          key: `k${(i + j) % 5}`,
          value: JSON.stringify({ topic, n: i + j, pad: 'y'.repeat(40) })
        }))
      }))
    })
  }
  await producer.disconnect()
}

async function member (name, seen) {
  const consumer = kafka.consumer({ groupId: 'kafkajs-group', heartbeatInterval: 1000 })
  let joined
  const join = new Promise((resolve) => { joined = resolve })
  consumer.on(consumer.events.GROUP_JOIN, () => joined())
  await consumer.connect()
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    autoCommitInterval: 500,
    eachMessage: async () => { seen.n++ }
  })
  await join
  return consumer
}

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 3 })) })
  await admin.disconnect()

  await produce(0, perTopic)
  const seen = { n: 0 }
  const c1 = await member('kafkajs-consumer-1', seen)
  while (seen.n < perTopic * topics.length) await sleep(50)
  const c2 = await member('kafkajs-consumer-2', seen)
  await produce(perTopic, perTopic / 2)
  while (seen.n < perTopic * topics.length * 1.5) await sleep(50)
  await sleep(1000) // let the auto commit run
  await c2.disconnect()
  await c1.disconnect()
}

const timer = setTimeout(() => { console.error('kafkajs workload: timed out'); process.exit(1) }, 60000)
main().then(() => clearTimeout(timer)).catch((e) => { console.error(e); process.exit(1) })
