import type { RxJsonSchema } from 'rxdb';

export interface ContactDoc {
  id: string;
  address: string;
  fingerprint: string;
  level: number;
  verified: boolean;
  note?: string;
}

export const contactSchema: RxJsonSchema<ContactDoc> = {
  title: 'contact keys',
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 100 },
    address: { type: 'string', maxLength: 200 },
    fingerprint: { type: 'string', maxLength: 40 },
    level: { type: 'integer', minimum: 0, maximum: 100, multipleOf: 1 },
    verified: { type: 'boolean' },
    note: { type: 'string' },
  },
  required: ['id', 'address', 'fingerprint', 'level', 'verified'],
  indexes: ['address', ['level', 'address']],
};

export interface SettingDoc {
  key: string;
  value: string;
}

export const settingSchema: RxJsonSchema<SettingDoc> = {
  title: 'settings',
  version: 0,
  primaryKey: 'key',
  type: 'object',
  properties: {
    key: { type: 'string', maxLength: 100 },
    value: { type: 'string' },
  },
  required: ['key', 'value'],
};
