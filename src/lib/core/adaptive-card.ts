/**
 * An Adaptive Card as the app sends it to Outlook and Teams. Cards built from templates are checked
 * against Microsoft's SDK in the tests rather than by this type; cards built in code narrow it.
 */
export interface AdaptiveCard {
  type: 'AdaptiveCard';
  version: string;
  body: unknown[];
  [property: string]: unknown;
}
