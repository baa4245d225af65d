// The baseline of `cargo xtask bench collector`: a worker that answers 204 and does nothing
// else, run by the same wrangler dev and workerd as the collector.
export default {
  async fetch() {
    return new Response(null, { status: 204 });
  },
};
