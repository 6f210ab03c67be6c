/**
 * The pure pieces behind what the CLI writes: package names, workspace ranges,
 * the published manifest, entry points and the build order of vendored packages.
 */
import { describe, expect, test } from "vitest";
import { isValidPackageName, packageNameFor, toValidPackageName } from "../src/scaffold.js";
import { childEnv, publishManifest, resolveWorkspaceRange, sourceEntryPoints, workspaceClosure, workspacePackages, findMonorepo } from "../src/vendor.js";
import { fileURLToPath } from "node:url";

describe("package names", () => {
  test.each([
    ["My Cool App", "my-cool-app"],
    ["  spaced  ", "spaced"],
    [".hidden", "hidden"],
    ["_under", "under"],
    ["a@b!c", "a-b-c"],
    ["Ünïcode", "n-code"],
    ["***", "cello-app"],
  ])("%j -> %j", (input, expected) => {
    expect(toValidPackageName(input)).toBe(expected);
    expect(isValidPackageName(toValidPackageName(input))).toBe(true);
  });

  test("valid names, scoped ones included, are kept as they are", () => {
    expect(isValidPackageName("@acme/dashboard")).toBe(true);
    expect(isValidPackageName("my-app.v2")).toBe(true);
    expect(isValidPackageName("My-App")).toBe(false);
    expect(packageNameFor("apps/my-app", "/work")).toBe("my-app");
    expect(packageNameFor(".", "/work/Dash Board")).toBe("dash-board");
  });
});

describe("workspace ranges become what a publish writes", () => {
  test.each([
    ["workspace:*", "0.1.0"],
    ["workspace:", "0.1.0"],
    ["workspace:^", "^0.1.0"],
    ["workspace:~", "~0.1.0"],
    ["workspace:^0.0.9", "^0.0.9"],
    ["^2.0.0", "^2.0.0"],
  ])("%s -> %s", (range, expected) => {
    expect(resolveWorkspaceRange(range, "0.1.0")).toBe(expected);
  });

  test("publishManifest applies publishConfig and drops what a tarball must not carry", () => {
    const manifest = publishManifest(
      {
        name: "@cellojs/testing",
        version: "0.1.0",
        exports: { ".": "./src/index.ts" },
        publishConfig: { exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } }, access: "public" },
        scripts: { postinstall: "node evil.js" },
        dependencies: { "@cellojs/core": "workspace:^", undici: "7.30.2" },
        peerDependencies: { "@cellojs/client": "workspace:*" },
        devDependencies: { "@cellojs/core": "workspace:*" },
      } as never,
      new Map([
        ["@cellojs/core", "0.2.0"],
        ["@cellojs/client", "0.3.0"],
      ]),
    );
    expect(manifest).toEqual({
      name: "@cellojs/testing",
      version: "0.1.0",
      exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
      dependencies: { "@cellojs/core": "^0.2.0", undici: "7.30.2" },
      peerDependencies: { "@cellojs/client": "0.3.0" },
    });
  });

  test("a workspace range on a package outside the workspace is an error", () => {
    expect(() => publishManifest({ name: "a", version: "1.0.0", dependencies: { ghost: "workspace:*" } }, new Map())).toThrow(
      "a depends on ghost@workspace:*, which is not a package of this workspace",
    );
  });
});

test("sourceEntryPoints finds every .ts target of an exports map", () => {
  expect(sourceEntryPoints("./src/index.ts")).toEqual(["./src/index.ts"]);
  expect(sourceEntryPoints({ ".": "./src/index.ts", "./sse": { import: "./src/sse.ts", types: "./src/sse.ts" }, "./package.json": "./package.json" })).toEqual([
    "./src/index.ts",
    "./src/sse.ts",
  ]);
  expect(sourceEntryPoints({ ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } })).toEqual([]);
});

describe("this checkout", () => {
  const root = findMonorepo(fileURLToPath(new URL(".", import.meta.url)));

  test("is found from the CLI's folder", () => {
    expect(root).toBe(fileURLToPath(new URL("../../../", import.meta.url)).replace(/[\\/]$/, ""));
  });

  test("vendored packages come dependencies first", () => {
    const order = workspaceClosure(["@cellojs/core", "@cellojs/testing"], workspacePackages(root!));
    expect(order.indexOf("@cellojs/core")).toBeLessThan(order.indexOf("@cellojs/testing"));
    expect(order.indexOf("@cellojs/client")).toBeLessThan(order.indexOf("@cellojs/testing"));
    expect(new Set(order).size).toBe(order.length);
  });
});

test("childEnv drops what an enclosing npm/pnpm run exported about its own project", () => {
  const env = childEnv({
    PATH: "/usr/bin",
    npm_config_local_prefix: "/work/main",
    npm_package_name: "@cellojs/create-app",
    npm_lifecycle_event: "test",
    INIT_CWD: "/work/main",
    PNPM_PACKAGE_NAME: "x",
    npm_config_registry: "https://registry.example/",
    npm_config_cache: "/root/.npm",
  });
  expect(env).toEqual({ PATH: "/usr/bin", npm_config_registry: "https://registry.example/", npm_config_cache: "/root/.npm" });
});
