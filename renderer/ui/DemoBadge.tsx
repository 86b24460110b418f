/** Marks what the built-in demo set up (its models, aggregators and recipe); they are removed like any other. */
export function DemoBadge() {
  return (
    <span title="Set up by the studio's built-in demo. Delete it like anything else; it is not added again." className="ml-2 rounded bg-accent-600/20 px-1.5 py-0.5 align-middle text-[10px] font-semibold tracking-wide text-accent-300 uppercase ring-1 ring-accent-600/40">
      Demo
    </span>
  );
}
