// Placeholder for NanoClaw's agent runner (container/agent-runner/src).
// The stand-in never runs it; it exists so the image and the entrypoint copy the
// same folder a NanoClaw checkout has, and a per-turn container can see it.
export const standinPlaceholder = true;
