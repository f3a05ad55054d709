/** swagger-ui-dist's path helper, which its own types do not declare. */
declare module 'swagger-ui-dist/absolute-path.js' {
  /** The folder holding the Swagger UI assets. */
  export default function getAbsoluteFSPath(): string;
}
