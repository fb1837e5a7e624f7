// The few globals the library uses, declared here so that no DOM or Node type library is needed
// (they exist in browsers, React Native and Node alike).
declare function setTimeout(callback: () => void, ms?: number): unknown;
declare function clearTimeout(handle: unknown): void;
